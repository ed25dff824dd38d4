"""Acrobot-v1 (gymnasium/envs/classic_control/acrobot.py), "book" dynamics, RK4 with dt = 0.2.

State (theta1, theta2, dtheta1, dtheta2); after each RK4 step the angles are wrapped to
[-pi, pi] and the velocities bounded to +-4 pi and +-9 pi. Terminated when
-cos(theta1) - cos(theta1 + theta2) > 1; reward -1 per step, 0 on the terminating step.
Actions 0, 1, 2 apply torque -1, 0, +1 (torque_noise_max = 0).

Numerics: Gymnasium integrates in float64 (the float32 reset state is promoted by np.append);
this port integrates in float32 with the same RK4 stages. `cos(x - pi/2)` in the dynamics is
evaluated as the identical `sin(x)`, which is more accurate in float32. The system is chaotic:
single steps from the same state agree at float32 tolerance; free-running trajectories agree for
roughly 100-200 steps before the float64/float32 rounding differences are amplified.

Behaviour descriptor: ``goal_step``, the step the tip reaches the line divided by the time limit
(in [0, 1]; 1 if never), and ``mean_abs_velocity``, the mean |dtheta1| of the first link at the
steps an action is taken (the observed states 0 .. L-1), in [0, 4 pi] (few strong swings or many
small ones). ``qd_offset`` = the time limit (reward -1 per step).
"""

from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ..base import Env, wrap_angle


@flax.struct.dataclass
class AcrobotState:
    theta1: jax.Array
    theta2: jax.Array
    dtheta1: jax.Array
    dtheta2: jax.Array
    t: jax.Array


class Acrobot(Env):
    name = "acrobot"
    gym_id = "Acrobot-v1"
    observation_size = 6
    action_size = 3
    discrete = True
    default_max_episode_steps = 500
    STATE_FIELDS = ("theta1", "theta2", "dtheta1", "dtheta2")
    State = AcrobotState

    dt = 0.2
    LINK_LENGTH_1 = 1.0
    LINK_LENGTH_2 = 1.0
    LINK_MASS_1 = 1.0
    LINK_MASS_2 = 1.0
    LINK_COM_POS_1 = 0.5
    LINK_COM_POS_2 = 0.5
    LINK_MOI = 1.0
    MAX_VEL_1 = 4 * math.pi
    MAX_VEL_2 = 9 * math.pi
    AVAIL_TORQUE = (-1.0, 0.0, 1.0)

    descriptor_names = ("goal_step", "mean_abs_velocity")
    descriptor_low = np.array([0.0, 0.0], np.float32)
    descriptor_high = np.array([1.0, MAX_VEL_1], np.float32)

    @property
    def qd_offset(self) -> float:
        """-(lowest return): -1 per step."""
        return float(self.max_episode_steps)

    def descriptor_init(self, obs, state):
        return jnp.float32(0.0)  # sum of |dtheta1| over the episode's steps

    def descriptor_update(self, acc, obs, action, next_obs, next_state, alive):
        # |dtheta1| where each action is taken (obs[4], steps 0 .. L-1): reading next_state made
        # XLA recompute the RK4 step in one more per-step kernel (+10 % of an acrobot rollout)
        return acc + jnp.where(alive, jnp.abs(obs[4]), jnp.float32(0.0))

    def descriptor_final(self, acc, length):
        # an episode ends at the goal or at the time limit: goal step / limit = length / limit
        n = jnp.maximum(length, 1).astype(jnp.float32)
        return jnp.stack([n / np.float32(self.max_episode_steps), acc / n]).astype(jnp.float32)

    def init_physics(self, key):
        s = jax.random.uniform(key, (4,), jnp.float32, minval=-0.1, maxval=0.1)
        return self.State(theta1=s[0], theta2=s[1], dtheta1=s[2], dtheta2=s[3], t=jnp.int32(0))

    def observation(self, state):
        return jnp.stack(
            [
                jnp.cos(state.theta1),
                jnp.sin(state.theta1),
                jnp.cos(state.theta2),
                jnp.sin(state.theta2),
                state.dtheta1,
                state.dtheta2,
            ]
        ).astype(jnp.float32)

    def _dsdt(self, s, a):
        """Time derivative of s = (theta1, theta2, dtheta1, dtheta2) under torque a ("book")."""
        f32 = np.float32
        m1, m2 = self.LINK_MASS_1, self.LINK_MASS_2
        l1 = self.LINK_LENGTH_1
        lc1, lc2 = self.LINK_COM_POS_1, self.LINK_COM_POS_2
        I1 = I2 = self.LINK_MOI
        g = 9.8
        theta1, theta2, dtheta1, dtheta2 = s[0], s[1], s[2], s[3]
        cos2, sin2 = jnp.cos(theta2), jnp.sin(theta2)

        d1 = f32(m1 * lc1**2 + m2 * (l1**2 + lc2**2) + I1 + I2) + f32(m2 * 2 * l1 * lc2) * cos2
        d2 = f32(m2 * lc2**2 + I2) + f32(m2 * l1 * lc2) * cos2
        # cos(x - pi/2) == sin(x)
        phi2 = f32(m2 * lc2 * g) * jnp.sin(theta1 + theta2)
        phi1 = (
            -f32(m2 * l1 * lc2) * dtheta2**2 * sin2
            - f32(2 * m2 * l1 * lc2) * dtheta2 * dtheta1 * sin2
            + f32((m1 * lc1 + m2 * l1) * g) * jnp.sin(theta1)
            + phi2
        )
        ddtheta2 = (a + d2 / d1 * phi1 - f32(m2 * l1 * lc2) * dtheta1**2 * sin2 - phi2) / (
            f32(m2 * lc2**2 + I2) - d2**2 / d1
        )
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return jnp.stack([dtheta1, dtheta2, ddtheta1, ddtheta2])

    def transition(self, state, action):
        f32 = np.float32
        a = self._discrete_action(action)
        torque = jnp.asarray(self.AVAIL_TORQUE, jnp.float32)[a]
        y0 = jnp.stack([state.theta1, state.theta2, state.dtheta1, state.dtheta2])

        # gymnasium's rk4(derivs, y0, [0, dt]): one classical RK4 step
        dt = f32(self.dt)
        dt2 = f32(self.dt / 2.0)
        k1 = self._dsdt(y0, torque)
        k2 = self._dsdt(y0 + dt2 * k1, torque)
        k3 = self._dsdt(y0 + dt2 * k2, torque)
        k4 = self._dsdt(y0 + dt * k3, torque)
        ns = y0 + f32(self.dt / 6.0) * (k1 + f32(2.0) * k2 + f32(2.0) * k3 + k4)

        theta1 = wrap_angle(ns[0])
        theta2 = wrap_angle(ns[1])
        dtheta1 = jnp.clip(ns[2], f32(-self.MAX_VEL_1), f32(self.MAX_VEL_1))
        dtheta2 = jnp.clip(ns[3], f32(-self.MAX_VEL_2), f32(self.MAX_VEL_2))

        terminated = -jnp.cos(theta1) - jnp.cos(theta2 + theta1) > f32(1.0)
        reward = jnp.where(terminated, f32(0.0), f32(-1.0))
        next_state = state.replace(theta1=theta1, theta2=theta2, dtheta1=dtheta1, dtheta2=dtheta2)
        return next_state, reward, terminated
