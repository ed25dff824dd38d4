"""Pendulum-v1 (gymnasium/envs/classic_control/pendulum.py).

Dynamics, exactly as Gymnasium (g = 10, m = l = 1, dt = 0.05, max_speed 8, max_torque 2):

    u = clip(a, -2, 2)
    cost = angle_normalize(th)^2 + 0.1 thdot^2 + 0.001 u^2      # from the state BEFORE the update
    thdot' = clip(thdot + (3 g / (2 l) sin(th) + 3 / (m l^2) u) dt, -8, 8)
    th' = th + thdot' dt
    reward = -cost

Numerics: Gymnasium keeps (th, thdot) in float64 with th unbounded (it grows by up to 0.4 per
step while spinning). In float32 an unbounded angle loses precision (ulp(64) ~ 8e-6), so this
port stores th wrapped to [-pi, pi] (Cody-Waite reduction, ~1 ulp). Observation
(cos th, sin th, thdot) and reward depend on th only modulo 2*pi, so they are unchanged;
`state_from_gym` wraps Gymnasium's float64 angle before casting.

Behaviour descriptor: ``upright_fraction``, the fraction of steps that end with the pole within
``UPRIGHT_ANGLE`` (pi/8) of upright, in [0, 1], and ``mean_abs_torque``, the mean |u| of the
clipped torque, in [0, 2] (swing up fast and hold, or pump gently). ``qd_offset`` = the largest
cost per step (pi^2 + 0.1 * 8^2 + 0.001 * 2^2) x time limit.
"""

from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ..base import Env, wrap_angle


def angle_normalize(x):
    """Gymnasium's ((x + pi) % (2 pi)) - pi, computed as an accurate float32 reduction."""
    return wrap_angle(x)


@flax.struct.dataclass
class PendulumState:
    theta: jax.Array  # kept in [-pi, pi]
    theta_dot: jax.Array
    t: jax.Array


class Pendulum(Env):
    name = "pendulum"
    gym_id = "Pendulum-v1"
    observation_size = 3
    action_size = 1
    discrete = False
    default_max_episode_steps = 200
    STATE_FIELDS = ("theta", "theta_dot")
    State = PendulumState

    max_speed = 8.0
    max_torque = 2.0
    dt = 0.05
    m = 1.0
    l = 1.0  # noqa: E741

    descriptor_names = ("upright_fraction", "mean_abs_torque")
    descriptor_low = np.array([0.0, 0.0], np.float32)
    descriptor_high = np.array([1.0, 2.0], np.float32)  # max_torque
    UPRIGHT_ANGLE = math.pi / 8

    def __init__(self, g: float = 10.0, max_episode_steps: int | None = None):
        super().__init__(max_episode_steps)
        self.g = float(g)
        self.action_low = np.full((1,), -self.max_torque, np.float32)
        self.action_high = np.full((1,), self.max_torque, np.float32)

    @property
    def qd_offset(self) -> float:
        """-(lowest return): the largest cost per step times the time limit."""
        return (math.pi**2 + 0.1 * self.max_speed**2 + 0.001 * self.max_torque**2) * self.max_episode_steps

    def descriptor_init(self, obs, state):
        return {"upright": jnp.float32(0.0), "torque": jnp.float32(0.0)}

    def descriptor_update(self, acc, obs, action, next_obs, next_state, alive):
        f32 = np.float32
        u = jnp.clip(self._continuous_action(action)[0], f32(-self.max_torque), f32(self.max_torque))
        upright = jnp.abs(next_state.theta) <= f32(self.UPRIGHT_ANGLE)  # theta is kept in [-pi, pi]
        w = alive.astype(jnp.float32)
        return {"upright": acc["upright"] + w * upright.astype(jnp.float32),
                "torque": acc["torque"] + w * jnp.abs(u)}

    def descriptor_final(self, acc, length):
        n = jnp.maximum(length, 1).astype(jnp.float32)
        return jnp.stack([acc["upright"] / n, acc["torque"] / n]).astype(jnp.float32)

    def init_physics(self, key):
        k_th, k_thdot = jax.random.split(key)
        theta = jax.random.uniform(k_th, (), jnp.float32, minval=-math.pi, maxval=math.pi)
        theta_dot = jax.random.uniform(k_thdot, (), jnp.float32, minval=-1.0, maxval=1.0)
        return self.State(theta=wrap_angle(theta), theta_dot=theta_dot, t=jnp.int32(0))

    def observation(self, state):
        th = state.theta
        return jnp.stack([jnp.cos(th), jnp.sin(th), state.theta_dot]).astype(jnp.float32)

    def transition(self, state, action):
        f32 = np.float32
        th, thdot = state.theta, state.theta_dot
        u = self._continuous_action(action)[0]
        u = jnp.clip(u, f32(-self.max_torque), f32(self.max_torque))

        costs = angle_normalize(th) ** 2 + f32(0.1) * thdot**2 + f32(0.001) * (u**2)

        newthdot = thdot + (
            f32(3.0 * self.g / (2.0 * self.l)) * jnp.sin(th) + f32(3.0 / (self.m * self.l**2)) * u
        ) * f32(self.dt)
        newthdot = jnp.clip(newthdot, f32(-self.max_speed), f32(self.max_speed))
        newth = wrap_angle(th + newthdot * f32(self.dt))

        return state.replace(theta=newth, theta_dot=newthdot), -costs, jnp.bool_(False)

    def _canonical_gym_state(self, arr):
        arr = np.array(arr, dtype=np.float64, copy=True)
        arr[..., 0] = np.mod(arr[..., 0] + np.pi, 2.0 * np.pi) - np.pi
        return arr
