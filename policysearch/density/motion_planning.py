"""A motion-planning density with several homotopy classes as modes.

The paper's motion-planning density is not public; this one is built to the same recipe
(REFERENCE.md §6). A path is K free 2-D waypoints ``w_1..w_K`` between a fixed start ``w_0``
and goal ``w_{K+1}``; ``x = (w_1, ..., w_K)`` flattened, ``dim = 2K``.

    log p(x) = -E_smooth(x) - E_obstacle(x)            (unnormalised)
    E_smooth   = sum_{k=0}^{K} ||w_{k+1} - w_k||^2 / (2 s^2)
    E_obstacle = lam * sum_{points q on the path} sum_o softplus((r_o - ||q - c_o||) / tau)

``E_smooth`` alone is a Gaussian (a discrete Brownian bridge from start to goal: mean on the
straight line, precision (1/s^2) * tridiag(-1, 2, -1) per coordinate); it is the *prior* of the
tempered-SMC ground truth, and exact samples of it are available (:meth:`sample_prior`).
The obstacle term is a smoothed hinge: ~ lam (r_o - d)/tau inside disc o (its gradient pushes
straight out of the disc), ~ 0 a few tau outside. It is evaluated at the waypoints and at ``points_per_segment - 1`` interior
points of every segment, so a path cannot jump over an obstacle between two waypoints.

Modes: a path passes each obstacle either on the left or the right; the homotopy class is the
bit pattern of the signs of the angle that the path sweeps around each obstacle centre
(:meth:`homotopy_class`, label in 0 .. 2^num_obstacles - 1). With the defaults (K = 6, start
(-5, 0), goal (5, 0), two obstacles just off the straight line) all four classes carry
visible mass, with unequal weights (see docs/density.md and the figure
docs/figures/density/motion_planning_modes.png).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .base import Target

__all__ = ["MotionPlanning"]


class MotionPlanning(Target):
    ground_truth_method = "smc"

    def __init__(self, num_waypoints: int = 6, start=(-5.0, 0.0), goal=(5.0, 0.0),
                 obstacles=((-2.0, 0.6, 1.0), (2.0, -0.6, 1.0)),
                 smooth_std: float = 0.9, obstacle_weight: float = 1.0,
                 obstacle_softness: float = 0.2,
                 points_per_segment: int = 4, name: str = "motion_planning",
                 init_std: float = 0.5):
        if num_waypoints < 1:
            raise ValueError(f"num_waypoints must be >= 1, got {num_waypoints}")
        if (smooth_std <= 0 or obstacle_weight < 0 or points_per_segment < 1
                or obstacle_softness <= 0):
            raise ValueError("smooth_std and obstacle_softness must be > 0, obstacle_weight >= 0, "
                             f"points_per_segment >= 1; got {smooth_std}, {obstacle_softness}, "
                             f"{obstacle_weight}, {points_per_segment}")
        obs = np.asarray(obstacles, np.float64).reshape(-1, 3)
        if np.any(obs[:, 2] <= 0):
            raise ValueError(f"obstacle radii must be > 0, got {obs[:, 2]}")
        self.name = name
        self.K = int(num_waypoints)
        self.dim = 2 * self.K
        self._start = np.asarray(start, np.float64)
        self._goal = np.asarray(goal, np.float64)
        self._obs = obs
        self.smooth_std = float(smooth_std)
        self.obstacle_weight = float(obstacle_weight)
        self.obstacle_softness = float(obstacle_softness)
        self.points_per_segment = int(points_per_segment)
        self.init_std = float(init_std)
        self.num_modes = 2 ** len(obs)
        self.start = jnp.asarray(self._start, jnp.float32)
        self.goal = jnp.asarray(self._goal, jnp.float32)
        self.centres = jnp.asarray(obs[:, :2], jnp.float32)
        self.radii = jnp.asarray(obs[:, 2], jnp.float32)
        lo = np.minimum(self._start, self._goal)
        hi = np.maximum(self._start, self._goal)
        self.plot_bounds = ((lo[0] - 1.5, hi[0] + 1.5), (lo[1] - 4.5, hi[1] + 4.5))
        # Gaussian prior (smoothness term): precision Q = T / s^2, T = tridiag(-1, 2, -1) [K, K]
        t = 2 * np.eye(self.K) - np.eye(self.K, k=1) - np.eye(self.K, k=-1)
        frac = np.arange(1, self.K + 1) / (self.K + 1)
        self._prior_mean = self._start[None] + frac[:, None] * (self._goal - self._start)[None]
        cov = np.linalg.inv(t) * self.smooth_std**2
        self._prior_chol = np.linalg.cholesky(cov)          # per coordinate, [K, K]
        self.prior_mean = jnp.asarray(self._prior_mean.reshape(-1), jnp.float32)

    def params(self):
        return {"K": self.K, "start": self._start, "goal": self._goal, "obstacles": self._obs,
                "smooth_std": self.smooth_std, "obstacle_weight": self.obstacle_weight,
                "obstacle_softness": self.obstacle_softness,
                "points_per_segment": self.points_per_segment}

    @property
    def init_mean(self):
        """Strategies start around the straight line (it crosses both obstacles)."""
        return self.prior_mean

    # --- geometry --------------------------------------------------------------------------
    def path(self, x):
        """[K+2, 2] polyline start, waypoints, goal."""
        return jnp.concatenate([self.start[None], x.reshape(self.K, 2), self.goal[None]], 0)

    def dense_path(self, x):
        p = self.path(x)
        m = self.points_per_segment
        a = jnp.arange(m) / m
        seg = p[:-1, None, :] + a[None, :, None] * (p[1:] - p[:-1])[:, None, :]
        return jnp.concatenate([seg.reshape(-1, 2), p[-1:]], 0)

    # --- density ---------------------------------------------------------------------------
    def smooth_energy(self, x):
        p = self.path(x)
        return 0.5 * jnp.sum((p[1:] - p[:-1]) ** 2) / self.smooth_std**2

    def obstacle_energy(self, x):
        q = self.dense_path(x)
        d = jnp.sqrt(jnp.sum((q[:, None, :] - self.centres[None]) ** 2, axis=-1) + 1e-12)
        return self.obstacle_weight * jnp.sum(
            jax.nn.softplus((self.radii - d) / self.obstacle_softness))

    def log_prior(self, x):
        """Smoothness part (a Gaussian, unnormalised)."""
        return -self.smooth_energy(x)

    def log_likelihood(self, x):
        """Obstacle part."""
        return -self.obstacle_energy(x)

    def log_prob(self, x):
        return -self.smooth_energy(x) - self.obstacle_energy(x)

    def sample_prior(self, key, n):
        """Exact samples [n, 2K] of the smoothness prior (Gaussian bridge)."""
        z = jax.random.normal(key, (n, self.K, 2))
        w = jnp.einsum("ij,njc->nic", jnp.asarray(self._prior_chol, jnp.float32), z)
        return (w + jnp.asarray(self._prior_mean, jnp.float32)).reshape(n, -1)

    # --- modes -----------------------------------------------------------------------------
    def winding_angles(self, x):
        """Signed angle swept around each obstacle centre along the dense path, [num_obstacles]."""
        q = self.dense_path(x)

        def one(c):
            v = q - c
            ang = jnp.arctan2(v[:, 1], v[:, 0])
            dang = jnp.diff(ang)
            dang = (dang + jnp.pi) % (2 * jnp.pi) - jnp.pi
            return jnp.sum(dang)

        return jax.vmap(one)(self.centres)

    def homotopy_class(self, x):
        """Class label sum_o [angle_o > 0] 2^o (angle > 0: the obstacle is passed on the
        right-hand side for a path from left to right, i.e. the path goes below it)."""
        bits = (self.winding_angles(x) > 0).astype(jnp.int32)
        return jnp.sum(bits * (2 ** jnp.arange(bits.shape[0])))

    def mode_labels(self, x):
        return self._batched(self.homotopy_class, x)

    def class_names(self):
        """Human-readable names: e.g. 'above-below' = above obstacle 0, below obstacle 1."""
        n = len(self._obs)
        return ["-".join("below" if (c >> o) & 1 else "above" for o in range(n))
                for c in range(self.num_modes)]

