"""PointMaze: QDax's deceptive point maze (qdax/tasks/brax/v1/envs/pointmaze.py, qdax 0.5.0).

QDax's class builds on ``brax.v1``, which brax 0.14 removed, so this is a port of its arithmetic
(same formulas, same operation order, float32), not of its class. Defaults as in QDax:

* box [-1, 1]^2; observation = position (x, y); action = 2 numbers, clipped to the box and
  divided by ``scale_action_space`` (10): at most 0.1 per axis and step;
* goal zone: square of width 0.1 centred at (-0.5, 0.8); the episode ends (``terminated``) on
  the step that lands inside (bounds inclusive);
* reward = -(distance from the new position to the zone's centre): greedy policies end under
  the upper wall, hence "deceptive";
* two walls of thickness 0.01 and width 1.5: the lower one at y = -0.5 for x >= -0.5, the upper
  one at y = 0.2 for x <= 0.5. A step that crosses a wall's line where the crossing point lies
  within the wall's x-span stops at the wall (y = -0.5 or 0.2 from below, -0.49 or 0.21 from
  above); then the position is clipped to the box;
* reset: x ~ U(-1, 1) / 10, y ~ U(-1, -0.7) (with QDax's key splitting: the same key gives
  the same start).

Behaviour descriptor (QDax's ``get_final_xy_position`` on its rollout): the state descriptor
(x, y) at the start of the last step of the episode, names ``x_pos, y_pos``, bounds the box.
QDax records the state descriptor *before* each step, so for an episode that reaches the goal
this is the position one step before entering the zone. ``qd_offset`` = QDax's reward offset for
pointmaze (2.3431, ``reward_offset`` in qdax/tasks/brax/v1/__init__.py; = the largest distance
in the box to the goal centre, from (1, -1)) x the time limit, so every return + qd_offset >= 0.
Default time limit 100 steps, as QDax's own pointmaze tests and runs use.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from .base import Env

#: QDax's reward offset for pointmaze (qdax/tasks/brax/v1/__init__.py, ``reward_offset``)
QDAX_REWARD_OFFSET = 2.3431


@flax.struct.dataclass
class PointMazeState:
    x: jax.Array
    y: jax.Array
    t: jax.Array


class PointMaze(Env):
    name = "pointmaze"
    gym_id = None
    observation_size = 2
    action_size = 2
    discrete = False
    default_max_episode_steps = 100
    STATE_FIELDS = ("x", "y")
    State = PointMazeState
    descriptor_names = ("x_pos", "y_pos")

    def __init__(
        self,
        scale_action_space: float = 10,
        x_min: float = -1,
        x_max: float = 1,
        y_min: float = -1,
        y_max: float = 1,
        zone_width: float = 0.1,
        zone_width_offset_from_x_min: float = 0.5,
        zone_height_offset_from_y_max: float = -0.2,
        wall_width_ratio: float = 0.75,
        upper_wall_height_offset: float = 0.2,
        lower_wall_height_offset: float = -0.5,
        max_episode_steps: int | None = None,
    ):
        super().__init__(max_episode_steps)
        # QDax's attributes, computed the same way (Python floats, weakly typed in JAX)
        self.scale_action_space = float(scale_action_space)
        self.x_min, self.x_max = float(x_min), float(x_max)
        self.y_min, self.y_max = float(y_min), float(y_max)
        self.zone_width = float(zone_width)
        self.zone_center = (self.x_min + zone_width_offset_from_x_min,
                            self.y_max + zone_height_offset_from_y_max)
        self.wall_height = 0.01  # the walls' thickness
        self.wall_width = (self.x_max - self.x_min) * wall_width_ratio
        self.upper_wall_y = float(upper_wall_height_offset)
        self.lower_wall_y = float(lower_wall_height_offset)
        # QDax clips actions to the box itself
        self.action_low = np.array([self.x_min, self.y_min], np.float32)
        self.action_high = np.array([self.x_max, self.y_max], np.float32)
        self.descriptor_low = self.action_low.copy()
        self.descriptor_high = self.action_high.copy()

    @property
    def qd_offset(self) -> float:
        """QDax's reward offset x time limit: every return plus this is >= 0."""
        return QDAX_REWARD_OFFSET * self.max_episode_steps

    # ------------------------------------------------------------------ dynamics
    def init_physics(self, key):
        _, k1, k2 = jax.random.split(key, 3)  # QDax: rng, rng1, rng2 = random_split(rng, 3)
        x = jax.random.uniform(k1, (), minval=self.x_min, maxval=self.x_max) / 10
        y = jax.random.uniform(k2, (), minval=self.y_min, maxval=-0.7)
        return self.State(x=x, y=y, t=jnp.int32(0))

    def observation(self, state):
        return jnp.stack([state.x, state.y]).astype(jnp.float32)

    def transition(self, state, action):
        a = self._continuous_action(action)
        a = jnp.clip(a, self.action_low, self.action_high) / self.scale_action_space
        x_old, y_old = state.x, state.y
        x, y = x_old + a[0], y_old + a[1]
        y = self._collide_lower_wall(y, y_old, x, x_old)
        y = self._collide_upper_wall(y, y_old, x, x_old)
        x = jnp.clip(x, self.x_min, self.x_max)
        y = jnp.clip(y, self.y_min, self.y_max)
        cx, cy = self.zone_center
        reward = -jnp.linalg.norm(jnp.stack([x - cx, y - cy]))
        return state.replace(x=x, y=y), reward, self.in_zone(x, y)

    def in_zone(self, x, y):
        """Whether (x, y) lies in the goal zone (bounds inclusive), QDax's ``_in_zone``."""
        cx, cy = self.zone_center
        half = self.zone_width / 2
        return (cx - half <= x) & (x <= cx + half) & (cy - half <= y) & (y <= cy + half)

    def _collide_lower_wall(self, y, y_old, x, x_old):
        """QDax's ``_collision_lower_wall``: wall at lower_wall_y for x >= x_max - wall_width."""
        h, top = self.lower_wall_y, self.lower_wall_y + self.wall_height
        x_cross = (h - y_old) / (y - y_old) * (x - x_old) + x_old
        on_wall = x_cross >= self.x_max - self.wall_width
        from_below = (y_old <= h) & (h < y) & on_wall
        new_y = jnp.where(from_below, h, y)
        from_above = (y < top) & (top <= y_old) & (y_old < self.upper_wall_y) & on_wall
        return jnp.where(from_above, top, new_y)

    def _collide_upper_wall(self, y, y_old, x, x_old):
        """QDax's ``_collision_upper_wall``: wall at upper_wall_y for x <= x_min + wall_width."""
        h, top = self.upper_wall_y, self.upper_wall_y + self.wall_height
        x_cross = (h - y_old) / (y - y_old) * (x - x_old) + x_old
        on_wall = x_cross <= self.x_min + self.wall_width
        from_above = (y_old >= top) & (top > y) & on_wall
        new_y = jnp.where(from_above, top, y)
        from_below = (y > h) & (h >= y_old) & (y_old > self.lower_wall_y) & on_wall
        return jnp.where(from_below, h, new_y)

    # ------------------------------------------------------------------ behaviour descriptor
    def descriptor_init(self, obs, state):
        return jnp.asarray(obs, jnp.float32)

    def descriptor_update(self, acc, obs, action, next_obs, next_state, alive):
        # QDax's transitions carry the state descriptor before the step; the last alive one wins
        return jnp.where(alive, jnp.asarray(obs, jnp.float32), acc)

    def descriptor_final(self, acc, length):
        return acc
