"""CartPole-v1 (gymnasium/envs/classic_control/cartpole.py), Euler integrator.

Action 1 pushes right (+10 N), 0 pushes left. Terminated when |x| > 2.4 or
|theta| > 12 degrees (strict inequalities, as Gymnasium). Reward 1 on every step, including the
terminating one (``sutton_barto_reward=False``; with ``True``: 0 per step, -1 on termination).
Gymnasium returns reward 0 for steps taken *after* termination (it warns that they are
undefined); this port does not track that, callers mask rewards after termination.

Numerics: Gymnasium integrates in float64; this port in float32 with the same formulas.
CartPole is unstable (errors grow ~10% per step near upright), so open-loop replays of one
action sequence separate after ~100 steps; closed-loop episodes and single steps from the same
state agree at float32 tolerance.

Behaviour descriptor: ``mean_position``, the mean cart position over the episode's steps (the
positions the actions are taken at), in [-2.4, 2.4], and ``survival_fraction``, the episode
length divided by the time limit, in [0, 1] (balance left, centred or right; fall early or not).
``qd_offset`` = 0 (1 with ``sutton_barto_reward``, whose returns are >= -1).
"""

from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from ..base import Env


@flax.struct.dataclass
class CartPoleState:
    x: jax.Array
    x_dot: jax.Array
    theta: jax.Array
    theta_dot: jax.Array
    t: jax.Array


class CartPole(Env):
    name = "cartpole"
    gym_id = "CartPole-v1"
    observation_size = 4
    action_size = 2
    discrete = True
    default_max_episode_steps = 500
    STATE_FIELDS = ("x", "x_dot", "theta", "theta_dot")
    State = CartPoleState

    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    total_mass = masspole + masscart
    length = 0.5  # half the pole's length
    polemass_length = masspole * length
    force_mag = 10.0
    tau = 0.02
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    descriptor_names = ("mean_position", "survival_fraction")
    descriptor_low = np.array([-x_threshold, 0.0], np.float32)
    descriptor_high = np.array([x_threshold, 1.0], np.float32)

    def __init__(self, sutton_barto_reward: bool = False, max_episode_steps: int | None = None):
        super().__init__(max_episode_steps)
        self.sutton_barto_reward = bool(sutton_barto_reward)

    @property
    def qd_offset(self) -> float:
        """-(lowest return): 0, or 1 with the Sutton-Barto reward (-1 on termination)."""
        return 1.0 if self.sutton_barto_reward else 0.0

    def descriptor_init(self, obs, state):
        return jnp.float32(0.0)  # sum of the cart positions

    def descriptor_update(self, acc, obs, action, next_obs, next_state, alive):
        # the position the action is taken at: inside [-2.4, 2.4] on every alive step
        return acc + jnp.where(alive, obs[0], jnp.float32(0.0))

    def descriptor_final(self, acc, length):
        n = jnp.maximum(length, 1).astype(jnp.float32)
        return jnp.stack([acc / n, n / np.float32(self.max_episode_steps)]).astype(jnp.float32)

    def init_physics(self, key):
        s = jax.random.uniform(key, (4,), jnp.float32, minval=-0.05, maxval=0.05)
        return self.State(x=s[0], x_dot=s[1], theta=s[2], theta_dot=s[3], t=jnp.int32(0))

    def observation(self, state):
        return jnp.stack([state.x, state.x_dot, state.theta, state.theta_dot]).astype(jnp.float32)

    def transition(self, state, action):
        f32 = np.float32
        a = self._discrete_action(action)
        x, x_dot, theta, theta_dot = state.x, state.x_dot, state.theta, state.theta_dot

        force = jnp.where(a == 1, f32(self.force_mag), f32(-self.force_mag))
        costheta = jnp.cos(theta)
        sintheta = jnp.sin(theta)
        temp = (force + f32(self.polemass_length) * jnp.square(theta_dot) * sintheta) / f32(
            self.total_mass
        )
        thetaacc = (f32(self.gravity) * sintheta - costheta * temp) / (
            f32(self.length)
            * (f32(4.0 / 3.0) - f32(self.masspole) * jnp.square(costheta) / f32(self.total_mass))
        )
        xacc = temp - f32(self.polemass_length) * thetaacc * costheta / f32(self.total_mass)

        tau = f32(self.tau)
        x = x + tau * x_dot
        x_dot = x_dot + tau * xacc
        theta = theta + tau * theta_dot
        theta_dot = theta_dot + tau * thetaacc

        thr = f32(self.theta_threshold_radians)
        xthr = f32(self.x_threshold)
        terminated = (x < -xthr) | (x > xthr) | (theta < -thr) | (theta > thr)
        if self.sutton_barto_reward:
            reward = jnp.where(terminated, f32(-1.0), f32(0.0))
        else:
            reward = jnp.float32(1.0)
        next_state = state.replace(x=x, x_dot=x_dot, theta=theta, theta_dot=theta_dot)
        return next_state, reward, terminated
