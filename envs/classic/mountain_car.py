"""MountainCar-v0 (gymnasium/envs/classic_control/mountain_car.py), 3 discrete actions.

Numerics: Gymnasium keeps this state in float64 (python/np.float64 scalars) and only casts the
observation to float32; this port runs the same update in float32. Differences are rounding
only (~1e-7 relative per step) and stay below 1e-5 over whole 200-step episodes.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ..base import Env


@flax.struct.dataclass
class MountainCarState:
    position: jax.Array
    velocity: jax.Array
    t: jax.Array


class MountainCar(Env):
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
