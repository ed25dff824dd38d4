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

QDax's QD-RL tasks (``QDAX_TASKS``: hopper_uni, walker2d_uni, halfcheetah_uni, ant_omni) are
built by ``qdax.tasks.brax.v2.create`` (QDax's wrappers, its ``debug=True`` contacts, ant_omni's
reward without the forward term; no episode or auto-reset wrapper) and need ``qdax``.

Behaviour descriptors (envs/base.py, docs/qd.md), QDax's definitions: the proportion of the
episode's steps in which each foot touches the ground (``FEET_NAMES``; bounds [0, 1]) for
hopper, walker2d, halfcheetah, humanoid and the ``*_uni`` tasks; the torso's final (x, y)
(bounds +-30, QDax's ant_omni) for ant and ant_omni. As QDax's rollout does, a step contributes
the state descriptor from BEFORE the step, for the episode's alive steps; "final" is the last such
one. One computation for all: the ``*_uni`` tasks' feet contacts from the contacts their
``debug=True`` pipelines store (what QDax's wrapper reads), the plain envs' from
``brax.contact.get`` on the link transforms (what such a pipeline stores); the torso's xy
unclipped (the archive clips; QDax's wrapper clips to the same bounds). ``qd_offset`` = QDax's
reward offset (the plain envs take the offset of the QDax task with the same reward) x episode
length.
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

from brax import base as brax_base  # noqa: E402
from brax import contact as brax_contact  # noqa: E402

from .base import Env  # noqa: E402

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "DEFAULT_EPISODE_LENGTH", "QDAX_TASKS", "BraxEnv",
           "BraxState", "make"]

#: physics pipelines of brax.envs.PipelineEnv
BACKENDS: tuple[str, ...] = ("spring", "positional", "generalized", "mjx")
#: fastest backend on CPU (see docs/brax.md); evosax's BraxProblem uses it too
DEFAULT_BACKEND = "spring"
#: Brax's (and MuJoCo/Gymnasium's) standard episode length
DEFAULT_EPISODE_LENGTH = 1000

#: QDax's QD-RL tasks served here (qdax.tasks.brax.v2) -> the Brax env underneath
QDAX_TASKS = {"hopper_uni": "hopper", "walker2d_uni": "walker2d",
              "halfcheetah_uni": "halfcheetah", "ant_omni": "ant"}
#: feet links of the feet-contact descriptor (QDax's FEET_NAMES, qdax/tasks/brax/v2/wrappers/
#: locomotion_wrappers.py; its ant entry names no link of brax 0.14's ant, so ant uses final xy)
FEET_NAMES = {"hopper": ("foot",), "walker2d": ("foot", "foot_left"),
              "halfcheetah": ("bfoot", "ffoot"), "humanoid": ("left_shin", "right_shin")}
#: envs whose descriptor is the torso's final (x, y) and its bounds (QDax's ant_omni)
XY_BOUND = {"ant": 30.0}
#: QDax's reward offsets (qdax/tasks/brax/v2/__init__.py ``reward_offset``) of the QDax task
#: whose reward the plain env shares (hopper_uni, ..., ant_uni, humanoid_uni)
PLAIN_REWARD_OFFSET = {"hopper": 0.9, "walker2d": 1.413, "halfcheetah": 9.231, "ant": 3.24,
                       "humanoid": 0.0}


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
        if names and name not in names and name not in QDAX_TASKS:
            raise ValueError(f"unknown brax env {name!r}; valid names: {', '.join(names)}")
        self.qdax_task = name in QDAX_TASKS
        try:
            if self.qdax_task:
                self.brax_env, reward_offset = _make_qdax_task(name, backend, brax_kwargs)
            else:
                self.brax_env = brax_envs.get_environment(name, backend=backend, **brax_kwargs)
                reward_offset = PLAIN_REWARD_OFFSET.get(name, 0.0)
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
        self._init_descriptor(QDAX_TASKS.get(name, name), reward_offset)

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

    # ------------------------------------------------------------------ behaviour descriptor
    def _init_descriptor(self, base: str, reward_offset: float) -> None:
        """Descriptor kind, links and bounds for the env `base` (QDax's definitions)."""
        links = list(self.brax_env.sys.link_names)
        self._reward_offset = float(reward_offset)
        self._desc_kind = None
        if base in FEET_NAMES:  # QDax's FeetContactWrapper: feet in link order
            self._feet_idx = np.array([i for i, n in enumerate(links) if n in FEET_NAMES[base]])
            self._desc_kind = "mean"
            self.descriptor_names = tuple(f"{links[i]}_contact" for i in self._feet_idx)
            d = len(self._feet_idx)
            self.descriptor_low, self.descriptor_high = np.zeros(d, np.float32), np.ones(d, np.float32)
        elif base in XY_BOUND:  # QDax's XYPositionWrapper on the torso
            self._torso_idx = links.index("torso")
            self._desc_kind = "last"
            self.descriptor_names = ("x_pos", "y_pos")
            self.descriptor_low = np.full(2, -XY_BOUND[base], np.float32)
            self.descriptor_high = np.full(2, XY_BOUND[base], np.float32)

    @property
    def qd_offset(self) -> float:
        """QDax's reward offset x episode length (QDax's qd_offset)."""
        return self._reward_offset * self.max_episode_steps

    def _state_descriptor(self, brax_state) -> jax.Array:
        """QDax's per-state descriptor: feet contacts (0/1 per foot) or the torso's (x, y)."""
        ps = brax_state.pipeline_state
        if self._desc_kind == "last":
            return jnp.asarray(ps.x.pos[self._torso_idx, :2], jnp.float32)
        c = getattr(ps, "contact", None)  # stored by debug=True pipelines (QDax's *_uni tasks)
        if not isinstance(c, brax_base.Contact):  # otherwise the same computation here
            c = brax_contact.get(self.brax_env.sys, ps.x)
        return feet_contact(c, self._feet_idx)

    def descriptor_init(self, obs, state):
        if self._desc_kind is None:
            return super().descriptor_init(obs, state)
        now = self._state_descriptor(state.brax_state)
        return {"now": now, "acc": jnp.zeros_like(now) if self._desc_kind == "mean" else now}

    def descriptor_update(self, acc, obs, action, next_obs, next_state, alive):
        now, prev = acc["now"], acc["acc"]  # "now": the descriptor of the state before this step
        if self._desc_kind == "mean":  # QDax's get_feet_contact_proportion: sum over alive steps
            prev = prev + jnp.where(alive, now, 0.0)
        else:  # QDax's get_final_xy_position: the last alive step's
            prev = jnp.where(alive, now, prev)
        return {"now": self._state_descriptor(next_state.brax_state), "acc": prev}

    def descriptor_final(self, acc, length):
        if self._desc_kind == "mean":
            return acc["acc"] / jnp.maximum(length, 1).astype(jnp.float32)
        return acc["acc"]

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


def feet_contact(contact, feet_idx) -> jax.Array:
    """float32[F]: 1 where a foot link touches the ground (QDax's FeetContactWrapper)."""
    touch = jax.vmap(lambda i: (contact.link_idx[1] == i) & (contact.dist <= 0))(jnp.asarray(feet_idx))
    return jnp.any(touch, axis=-1).astype(jnp.float32)


def _make_qdax_task(name: str, backend: str, brax_kwargs: dict):
    """(QDax's env for task `name`, QDax's reward offset); no episode/auto-reset wrappers."""
    try:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):  # mujoco.mjx's warp lines again
            import qdax.tasks.brax.v2 as qdax_envs
    except ImportError as e:
        raise ImportError(f"the QDax task {name!r} needs qdax ({e}): pip install -e .[qd]") from None
    offset = float(qdax_envs.reward_offset[name])
    if name == "ant_omni":
        # QDax's XYPositionWrapper calls jnp.clip(a_min=...), which jax 0.10 removed: keep its
        # other wrapper (the reward without the forward term) and compute the torso's xy here
        from qdax.tasks.brax.v2.wrappers.locomotion_wrappers import NoForwardRewardWrapper

        base = brax_envs.get_environment("ant", backend=backend, **brax_kwargs)
        return NoForwardRewardWrapper(base, "ant"), offset
    env = qdax_envs.create(name, episode_length=None, auto_reset=False, backend=backend, **brax_kwargs)
    return env, offset


def make(name: str, **kwargs: Any) -> BraxEnv:
    """``BraxEnv(name, backend="spring", episode_length=1000, **brax_env_kwargs)``.

    Extra keyword arguments go to the Brax env's constructor (e.g. hopper's
    ``ctrl_cost_weight``, ``terminate_when_unhealthy``; any env's ``n_frames``).
    """
    return BraxEnv(name, **kwargs)

