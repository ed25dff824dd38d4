"""MountainCar-v0 (gymnasium/envs/classic_control/mountain_car.py), 3 discrete actions.

Numerics: Gymnasium keeps this state in float64 (python/np.float64 scalars) and only casts the
observation to float32; this port runs the same update in float32. Differences are rounding
only (~1e-7 relative per step) and stay below 1e-5 over whole 200-step episodes.

Behaviour descriptor (both MountainCars, :class:`MountainCarDescriptor`): ``min_position``, the
leftmost position an action is taken at (in [-1.2, -0.4]: the reset position is at most -0.4), and
``goal_step``, the step the goal is reached divided by the time limit (in [0, 1]; 1 if never),
which is the episode length / time limit since an episode ends only at the goal or the limit.
They separate the usual strategies: one swing or several, and how fast.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ..base import Env


class MountainCarDescriptor:
    """(leftmost position, goal step / time limit) of an episode; mixin of both MountainCars."""

    descriptor_names = ("min_position", "goal_step")
    descriptor_low = np.array([-1.2, 0.0], np.float32)
    descriptor_high = np.array([-0.4, 1.0], np.float32)

    def descriptor_init(self, obs, state):
        return jnp.asarray(state.position, jnp.float32)

    def descriptor_update(self, acc, obs, action, next_obs, next_state, alive):
        # the positions an action is taken at (p_0 .. p_{L-1}), read from the carried observation:
        # using next_state would make XLA recompute the step's physics in one more per-step
        # kernel (+10 % of a MountainCar generation, benchmarks/qd_archive_overhead.py). The
        # final position p_L only differs at the goal (x >= 0.45, never the leftmost).
        return jnp.minimum(acc, jnp.where(alive, obs[0], jnp.float32(jnp.inf)))

    def descriptor_final(self, acc, length):
        # an episode ends at the goal or at the time limit, so goal step / limit = length / limit
        # exactly (1 if never reached; reaching it on the last step also gives 1)
        goal = length.astype(jnp.float32) / np.float32(self.max_episode_steps)
        return jnp.stack([acc, goal]).astype(jnp.float32)


@flax.struct.dataclass
class MountainCarState:
    position: jax.Array
    velocity: jax.Array
    t: jax.Array


class MountainCar(MountainCarDescriptor, Env):
    name = "mountaincar_discrete"
    gym_id = "MountainCar-v0"
    observation_size = 2
    action_size = 3  # 0: push left, 1: no push, 2: push right
    discrete = True
    default_max_episode_steps = 200
    STATE_FIELDS = ("position", "velocity")
    State = MountainCarState

    min_position = -1.2
    max_position = 0.6
    max_speed = 0.07
    goal_position = 0.5
    force = 0.001
    gravity = 0.0025

    def __init__(self, goal_velocity: float = 0.0, max_episode_steps: int | None = None):
        super().__init__(max_episode_steps)
        self.goal_velocity = float(goal_velocity)

    @property
    def qd_offset(self) -> float:
        """-(lowest return): -1 per step."""
        return float(self.max_episode_steps)

    def init_physics(self, key):
        position = jax.random.uniform(key, (), jnp.float32, minval=-0.6, maxval=-0.4)
        return self.State(position=position, velocity=jnp.float32(0.0), t=jnp.int32(0))

    def observation(self, state):
        return jnp.stack([state.position, state.velocity]).astype(jnp.float32)

    def transition(self, state, action):
        a = self._discrete_action(action)
        f32 = np.float32
        position, velocity = state.position, state.velocity

        velocity = velocity + (
            (a - 1).astype(jnp.float32) * f32(self.force)
            + jnp.cos(f32(3.0) * position) * f32(-self.gravity)
        )
        velocity = jnp.clip(velocity, f32(-self.max_speed), f32(self.max_speed))
        position = position + velocity
        position = jnp.clip(position, f32(self.min_position), f32(self.max_position))
        velocity = jnp.where(
            (position == f32(self.min_position)) & (velocity < 0), f32(0.0), velocity
        )

        terminated = (position >= f32(self.goal_position)) & (velocity >= f32(self.goal_velocity))
        reward = jnp.float32(-1.0)
        return state.replace(position=position, velocity=velocity), reward, terminated
