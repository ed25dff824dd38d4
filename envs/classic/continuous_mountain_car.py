"""MountainCarContinuous-v0 (gymnasium/envs/classic_control/continuous_mountain_car.py).

Numerics: after the first step Gymnasium stores its state as float32 and, under NumPy 2's
promotion rules (NEP 50), does the velocity/position update and every comparison in float32
(`np.float32 op python_float` stays float32; only cos(3x) is evaluated in double by
`math.cos`). This port does the same arithmetic in float32 with the same operation order, so a
step from the same state agrees to ~1 ulp. The reward (`-0.1 a^2`, `+100` on reaching the goal)
uses the *unclipped* action, as in Gymnasium.

Behaviour descriptor: ``min_position`` in [-1.2, -0.4] and ``goal_step`` in [0, 1] (see
``mountain_car.MountainCarDescriptor``). ``qd_offset`` = 0.1 x time limit (lowest return of
actions within the bounds).
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ..base import Env
from .mountain_car import MountainCarDescriptor


@flax.struct.dataclass
class MountainCarContinuousState:
    position: jax.Array
    velocity: jax.Array
    t: jax.Array


class MountainCarContinuous(MountainCarDescriptor, Env):
    name = "mountaincar"
    gym_id = "MountainCarContinuous-v0"
    observation_size = 2
    action_size = 1
    discrete = False
    default_max_episode_steps = 999
    STATE_FIELDS = ("position", "velocity")
    State = MountainCarContinuousState

    min_action = -1.0
    max_action = 1.0
    min_position = -1.2
    max_position = 0.6
    max_speed = 0.07
    goal_position = 0.45  # 0.5 in the discrete MountainCar
    power = 0.0015

    def __init__(self, goal_velocity: float = 0.0, max_episode_steps: int | None = None):
        super().__init__(max_episode_steps)
        self.goal_velocity = float(goal_velocity)
        self.action_low = np.full((1,), self.min_action, np.float32)
        self.action_high = np.full((1,), self.max_action, np.float32)

    @property
    def qd_offset(self) -> float:
        """-(lowest return) for actions within the bounds: -0.1 a^2 per step."""
        return 0.1 * self.max_action**2 * self.max_episode_steps

    def init_physics(self, key):
        position = jax.random.uniform(key, (), jnp.float32, minval=-0.6, maxval=-0.4)
        return self.State(position=position, velocity=jnp.float32(0.0), t=jnp.int32(0))

    def observation(self, state):
        return jnp.stack([state.position, state.velocity]).astype(jnp.float32)

    def transition(self, state, action):
        a = self._continuous_action(action)[0]
        f32 = np.float32
        position, velocity = state.position, state.velocity

        force = jnp.clip(a, f32(self.min_action), f32(self.max_action))
        velocity = velocity + (
            force * f32(self.power) - f32(0.0025) * jnp.cos(f32(3.0) * position)
        )
        velocity = jnp.clip(velocity, f32(-self.max_speed), f32(self.max_speed))
        position = position + velocity
        position = jnp.clip(position, f32(self.min_position), f32(self.max_position))
        # inelastic collision with the left wall only
        velocity = jnp.where(
            (position == f32(self.min_position)) & (velocity < 0), f32(0.0), velocity
        )

        terminated = (position >= f32(self.goal_position)) & (velocity >= f32(self.goal_velocity))
        reward = jnp.where(terminated, f32(100.0), f32(0.0)) - (a * a) * f32(0.1)
        next_state = state.replace(position=position, velocity=velocity)
        return next_state, reward, terminated
