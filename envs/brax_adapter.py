"""Brax environments behind the envs contract (docs/architecture.md, "envs contract").

    env = envs.make("hopper", backend="spring", episode_length=100)
    obs, state = env.reset(key)                                   # obs float32[obs_size]
    obs, state, reward, terminated, truncated = env.step(state, action)

``envs.make`` delegates the names in ``envs.BRAX_NAMES`` to :func:`make` here (this module is
imported lazily, so brax stays an optional dependency).  :func:`make` itself accepts any name
registered in ``brax.envs``.

Semantics, the same as the classic-control ports:

* the raw Brax env is built with ``brax.envs.get_environment(name, backend=...)``, i.e. WITHOUT
  Brax's training wrappers (no ``EpisodeWrapper``, no ``AutoResetWrapper``, no ``VmapWrapper``);
* ``state`` is a :class:`BraxState` pytree: the Brax ``State`` and an int32 step counter ``t``;
* ``terminated`` is Brax's ``done`` (set by envs with a health check: hopper, walker2d, ant,
  humanoid, inverted pendulums; always false for halfcheetah, reacher, ...);
* ``truncated`` is ``t >= max_episode_steps`` (``episode_length``), like Gymnasium's TimeLimit;
* ``step`` never resets; the caller (``policysearch.rollout``) masks rewards after the end;
* actions are clipped to ``[action_low, action_high]`` inside ``step``.  These bounds come
  from the model's actuator ``ctrlrange``: ``[-1, 1]`` for halfcheetah, hopper, walker2d,
  ant, reacher, swimmer and inverted_double_pendulum; ``[-0.4, 0.4]`` for humanoid, ``[-3, 3]``
  for inverted_pendulum and ``[-2, 2]`` for pusher (Brax would clip to the same range itself);
* ``gym_id`` is ``None``: these envs have no Gymnasium counterpart in this project.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np


def _import_brax_envs():
    """``brax.envs``, without the "Failed to import warp" lines mujoco.mjx prints to stdout."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        import brax.envs as brax_envs
    noise = ("Failed to import warp", "Failed to import mujoco_warp")
    rest = [ln for ln in buf.getvalue().splitlines() if ln.strip() and not ln.startswith(noise)]
    if rest:
        print("\n".join(rest))
    return brax_envs


brax_envs = _import_brax_envs()

from .base import Env  # noqa: E402

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "DEFAULT_EPISODE_LENGTH", "BraxEnv", "BraxState", "make"]

#: physics pipelines of brax.envs.PipelineEnv
BACKENDS: tuple[str, ...] = ("spring", "positional", "generalized", "mjx")
#: fastest backend on CPU (see docs/brax.md); evosax's BraxProblem uses it too
DEFAULT_BACKEND = "spring"
#: Brax's (and MuJoCo/Gymnasium's) standard episode length
DEFAULT_EPISODE_LENGTH = 1000


def brax_env_names() -> tuple[str, ...]:
    """Names registered in ``brax.envs``."""
    return tuple(sorted(getattr(brax_envs, "_envs", {})))


@flax.struct.dataclass
class BraxState:
    """Episode state: the Brax ``State`` (pipeline state, obs, reward, done, ...) and ``t``."""

    brax_state: Any
    t: jax.Array


class BraxEnv(Env):
    """A ``brax.envs`` environment with the project's reset/step contract (no auto-reset)."""

    discrete = False

    def __init__(
        self,
        name: str,
        backend: str = DEFAULT_BACKEND,
        episode_length: int | None = None,
        max_episode_steps: int | None = None,
        **brax_kwargs: Any,
    ):
        if not isinstance(backend, str) or backend not in BACKENDS:
            raise ValueError(f"unknown brax backend {backend!r}; allowed: {', '.join(BACKENDS)}")
        if episode_length is not None and max_episode_steps is not None \
                and int(episode_length) != int(max_episode_steps):
            raise ValueError(
                f"episode_length={episode_length} and max_episode_steps={max_episode_steps} "
                "disagree; give one of them"
            )
        steps = episode_length if episode_length is not None else max_episode_steps
        steps = DEFAULT_EPISODE_LENGTH if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"episode_length must be an integer >= 1, got {steps!r}")
        super().__init__(max_episode_steps=int(steps))

        names = brax_env_names()
        if names and name not in names:
            raise ValueError(f"unknown brax env {name!r}; valid names: {', '.join(names)}")
        try:
            self.brax_env = brax_envs.get_environment(name, backend=backend, **brax_kwargs)
        except ValueError as e:  # e.g. swimmer supports only 'generalized'
            raise ValueError(f"brax env {name!r} with backend {backend!r}: {e}") from None

        self.name = name
        self.gym_id = None
        self.backend = backend
        self.brax_kwargs = dict(brax_kwargs)
        self.action_size = int(self.brax_env.action_size)
        obs_shape = jax.eval_shape(self.brax_env.reset, jax.random.PRNGKey(0)).obs.shape
        if len(obs_shape) != 1:
            raise ValueError(f"brax env {name!r}: observation must be a vector, got shape {obs_shape}")
        self.observation_size = int(obs_shape[0])
        low, high = self._ctrl_range()
        self.action_low = low
        self.action_high = high

    def _ctrl_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Actuator control range of the model (float32[action_size] each); +-1 if unlimited."""
        n = self.action_size
        low, high = -np.ones(n, np.float32), np.ones(n, np.float32)
        try:
            rng = np.asarray(self.brax_env.sys.actuator.ctrl_range, np.float64).reshape(n, 2)
        except (AttributeError, ValueError, TypeError):
            return low, high
        ok = np.isfinite(rng).all(axis=1) & (rng[:, 1] > rng[:, 0])
        low[ok], high[ok] = rng[ok, 0], rng[ok, 1]
        return low, high

    @property
    def episode_length(self) -> int:
        return self.max_episode_steps

    @property
    def dt(self) -> float:
        """Simulated seconds per env step."""
        return float(self.brax_env.dt)

    # ------------------------------------------------------------------ public API
    def reset(self, key: jax.Array):
        """(obs float32[observation_size], state) with ``state.t == 0``."""
        bs = self.brax_env.reset(key)
        return jnp.asarray(bs.obs, jnp.float32), BraxState(brax_state=bs, t=jnp.int32(0))

    def step(self, state: BraxState, action):
        """(obs, next_state, reward f32, terminated bool, truncated bool); no auto-reset."""
        action = jnp.reshape(jnp.asarray(action, jnp.float32), (self.action_size,))
        action = jnp.clip(action, self.action_low, self.action_high)
        bs = self.brax_env.step(state.brax_state, action)
        t = state.t + jnp.int32(1)
        return (
            jnp.asarray(bs.obs, jnp.float32),
            BraxState(brax_state=bs, t=t),
            jnp.asarray(bs.reward, jnp.float32),
            jnp.asarray(bs.done, jnp.float32) > 0.5,
            t >= self.max_episode_steps,
        )

    # ------------------------------------------------------------------ not applicable
    def state_from_gym(self, gym_env, t: int = 0):
        raise ValueError(f"{self.name}: brax envs have no Gymnasium counterpart (gym_id is None)")

    def state_from_array(self, arr, t=0):
        raise ValueError(f"{self.name}: brax states are not flat arrays; use reset/step")

    def state_to_array(self, state):
        raise ValueError(f"{self.name}: brax states are not flat arrays; use reset/step")

    def __repr__(self) -> str:
        return (
            f"BraxEnv(name={self.name!r}, backend={self.backend!r}, "
            f"max_episode_steps={self.max_episode_steps})"
        )


def make(name: str, **kwargs: Any) -> BraxEnv:
    """``BraxEnv(name, backend="spring", episode_length=1000, **brax_env_kwargs)``.

    Extra keyword arguments go to the Brax env's constructor (e.g. hopper's
    ``ctrl_cost_weight``, ``terminate_when_unhealthy``; any env's ``n_frames``).
    """
    return BraxEnv(name, **kwargs)

