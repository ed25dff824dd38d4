"""Base class of the pure-JAX environments (see docs/architecture.md, "envs contract").

An env is a plain, stateless Python object holding constants; all episode data lives in a
``state`` pytree (a ``flax.struct`` dataclass with the physical fields and an int32 step
counter ``t``).  ``reset`` and ``step`` are pure functions of their arguments, so they work
under ``jax.jit``, ``jax.vmap`` and ``jax.lax.scan``.

Subclasses define:

* ``State``: a flax.struct dataclass whose fields are ``STATE_FIELDS`` followed by ``t``;
* ``STATE_FIELDS``: names of the physical fields, in the order of Gymnasium's ``env.state``;
* ``init_physics(key) -> State`` (with ``t = 0``);
* ``transition(state, action) -> (next_state, reward, terminated)`` (``t`` is handled here);
* ``observation(state) -> float32[observation_size]``;
* optionally ``_canonical_gym_state(arr)`` to map a float64 Gymnasium state onto ours
  (e.g. wrapping an angle) before it is cast to float32.

Behaviour descriptor (the quality-diversity view of a run, docs/qd.md): every env defines
``descriptor_names``, the documented bounds ``descriptor_low`` / ``descriptor_high``
(float32[D]), ``qd_offset`` (added to a return to make it >= 0 for the QD-score, QDax's
convention) and three pure functions that the rollout threads through its scan:
``descriptor_init(obs, state) -> acc``, ``descriptor_update(acc, obs, action, next_obs,
next_state, alive) -> acc`` (``alive``: the step belongs to the episode, the same mask as the
rewards) and ``descriptor_final(acc, length) -> float32[D]`` (raw, not clipped).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Env", "wrap_angle", "TWO_PI_HI", "TWO_PI_LO"]

# 2*pi split into a float32 head and the float32 remainder (Cody-Waite), so that subtracting a
# small multiple of 2*pi in float32 loses no more than one rounding.
TWO_PI_HI = np.float32(2.0 * math.pi)
TWO_PI_LO = np.float32(2.0 * math.pi - float(TWO_PI_HI))


def wrap_angle(x):
    """x - 2*pi*k with k = round(x / 2pi): the angle in [-pi, pi] (float32, accurate to ~1 ulp).

    Same result as Gymnasium's ``angle_normalize`` (pendulum) and ``wrap(x, -pi, pi)``
    (acrobot) except possibly at the endpoint +-pi, where both representations describe the
    same angle.
    """
    x = jnp.asarray(x, jnp.float32)
    k = jnp.round(x * np.float32(1.0 / (2.0 * math.pi)))
    return (x - k * TWO_PI_HI) - k * TWO_PI_LO


class Env:
    """Pure-JAX environment with Gymnasium semantics (TimeLimit included, no auto-reset)."""

    # static description, set by subclasses
    name: ClassVar[str] = ""
    gym_id: ClassVar[str] = ""
    observation_size: ClassVar[int] = 0
    action_size: ClassVar[int] = 0  # number of actions when `discrete`
    discrete: ClassVar[bool] = False
    default_max_episode_steps: ClassVar[int] = 0
    STATE_FIELDS: ClassVar[tuple[str, ...]] = ()
    State: ClassVar[type] = None  # flax.struct dataclass, fields STATE_FIELDS + ("t",)

    def __init__(self, max_episode_steps: int | None = None):
        steps = self.default_max_episode_steps if max_episode_steps is None else max_episode_steps
        if int(steps) < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {steps}")
        self.max_episode_steps = int(steps)
        # continuous envs set float32 arrays in their __init__
        self.action_low: np.ndarray | None = None
        self.action_high: np.ndarray | None = None

    # ------------------------------------------------------------------ subclass hooks
    def init_physics(self, key: jax.Array):  # pragma: no cover - abstract
        raise NotImplementedError

    def transition(self, state, action):  # pragma: no cover - abstract
        raise NotImplementedError

    def observation(self, state) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def _canonical_gym_state(self, arr: np.ndarray) -> np.ndarray:
        return arr

    # ------------------------------------------------------------------ public API
    def reset(self, key: jax.Array):
        """(obs float32[observation_size], state) with ``state.t == 0``."""
        state = self.init_physics(key)
        return self.observation(state), state

    def step(self, state, action):
        """(obs, next_state, reward f32, terminated bool, truncated bool); no auto-reset."""
        next_state, reward, terminated = self.transition(state, action)
        t = state.t + jnp.int32(1)
        next_state = next_state.replace(t=t)
        truncated = t >= self.max_episode_steps  # gymnasium TimeLimit: elapsed >= max
        return (
            jnp.asarray(self.observation(next_state), jnp.float32),
            next_state,
            jnp.asarray(reward, jnp.float32),
            jnp.asarray(terminated, jnp.bool_),
            jnp.asarray(truncated, jnp.bool_),
        )

    # ------------------------------------------------------------------ action helpers
    def _continuous_action(self, action) -> jax.Array:
        return jnp.reshape(jnp.asarray(action, jnp.float32), (self.action_size,))

    @staticmethod
    def _discrete_action(action) -> jax.Array:
        return jnp.reshape(jnp.asarray(action), ()).astype(jnp.int32)

    # ------------------------------------------------------------------ Gymnasium parity helpers
    def state_from_array(self, arr: Any, t: Any = 0):
        """Our state from Gymnasium-layout state values ``arr[..., len(STATE_FIELDS)]``.

        Batched input gives a batched state (leading axes of ``arr``; ``t`` broadcasts).
        """
        arr = np.asarray(arr, dtype=np.float64)
        if arr.shape[-1:] != (len(self.STATE_FIELDS),):
            raise ValueError(
                f"{self.name}: state array must end in {len(self.STATE_FIELDS)} values "
                f"{self.STATE_FIELDS}, got shape {arr.shape}"
            )
        arr = self._canonical_gym_state(arr)
        fields = {f: jnp.asarray(arr[..., i], jnp.float32) for i, f in enumerate(self.STATE_FIELDS)}
        t = jnp.broadcast_to(jnp.asarray(t, jnp.int32), arr.shape[:-1])
        return self.State(**fields, t=t)

    def state_from_gym(self, gym_env, t: int = 0):
        """Our state from a (preferably unwrapped) Gymnasium env's ``.state``."""
        gym_env = getattr(gym_env, "unwrapped", gym_env)
        if gym_env.state is None:
            raise ValueError(f"{self.name}: the Gymnasium env has no state yet; call reset() first")
        return self.state_from_array(np.asarray(gym_env.state, dtype=np.float64), t)

    def state_to_array(self, state) -> np.ndarray:
        """Physical state as float64 ``[..., len(STATE_FIELDS)]`` in Gymnasium's layout."""
        return np.stack(
            [np.asarray(getattr(state, f), dtype=np.float64) for f in self.STATE_FIELDS], axis=-1
        )

    # ------------------------------------------------------------------ behaviour descriptor
    descriptor_names: tuple[str, ...] = ()
    descriptor_low: np.ndarray | None = None  # float32[D]
    descriptor_high: np.ndarray | None = None  # float32[D]
    qd_offset: float = 0.0

    def _no_descriptor(self):
        return NotImplementedError(
            f"env {self.name!r} defines no behaviour descriptor (descriptor_names, descriptor_init, "
            "descriptor_update, descriptor_final; see envs/base.py and docs/qd.md)")

    def descriptor_init(self, obs, state):
        """Accumulator (pytree of float32 arrays) at the reset observation/state."""
        raise self._no_descriptor()

    def descriptor_update(self, acc, obs, action, next_obs, next_state, alive):
        """Accumulator after one step (called every scan step; ``alive``: the step counts)."""
        raise self._no_descriptor()

    def descriptor_final(self, acc, length):
        """Raw descriptor float32[D] of an episode of ``length`` alive steps (not clipped)."""
        raise self._no_descriptor()

    def __repr__(self) -> str:
        cls = type(self).__name__
        return f"{cls}(name={self.name!r}, max_episode_steps={self.max_episode_steps})"
