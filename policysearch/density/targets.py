"""The synthetic 2-D / n-D targets and the registry of every target by name (:func:`make_target`).

Targets in this module: :class:`GaussianMixture` (random or given modes/weights, any dimension;
also the 8- and 25-Gaussians layouts), :class:`DoubleBanana`, :class:`Funnel`, :class:`Rings`.
Motion planning lives in :mod:`policysearch.density.motion_planning`, Bayesian logistic
regression in :mod:`policysearch.density.logreg`, the optimisation benchmarks (rastrigin, ackley,
styblinski, schwefel, alpine1, step) in :mod:`policysearch.density.benchmarks`; the base type
:class:`Target` and its contract in :mod:`policysearch.density.base` (re-exported here).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from scipy.stats import chi2

from .base import Target
from .benchmarks import BenchmarkFunction
from .logreg import BayesianLogisticRegression
from .motion_planning import MotionPlanning

__all__ = [
    "Target",
    "GaussianMixture",
    "DoubleBanana",
    "Funnel",
    "Rings",
    "make_target",
    "TARGET_NAMES",
]

_LOG_2PI = math.log(2.0 * math.pi)


# =========================================================================================
# Gaussian mixtures
# =========================================================================================
class GaussianMixture(Target):
    """Mixture of isotropic Gaussians sum_k w_k N(mu_k, s_k^2 I) (normalised, exact sampler).

    ``GaussianMixture(means[K, d], weights[K] | None, stds scalar | [K])``; constructors
    :meth:`random` (modes uniform in a box with a minimum separation, random or uniform weights:
    the first author's demo), :meth:`circle` (the "8 Gaussians") and :meth:`grid` ("25 Gaussians").
    """

    normalized = True
    ground_truth_method = "exact"

    def __init__(self, means, weights=None, stds=1.0, name: str = "gmm", init_std: float = 1.0):
        means = np.asarray(means, dtype=np.float64)
        if means.ndim != 2 or means.shape[0] < 1:
            raise ValueError(f"means must have shape [num_modes, dim], got {means.shape}")
        k, d = means.shape
        weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, np.float64)
        if weights.shape != (k,) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(f"weights must be {k} non-negative numbers, got {weights}")
        weights = weights / weights.sum()
        stds = np.broadcast_to(np.asarray(stds, np.float64), (k,)).copy()
        if np.any(stds <= 0):
            raise ValueError(f"stds must be > 0, got {stds}")
        self.name, self.dim, self.num_modes = name, d, k
        self._means, self._weights, self._stds = means, weights, stds
        self.means = jnp.asarray(means, jnp.float32)
        self.weights = jnp.asarray(weights, jnp.float32)
        self.stds = jnp.asarray(stds, jnp.float32)
        self.init_std = float(init_std)
        lo = means.min(0) - 4 * stds.max()
        hi = means.max(0) + 4 * stds.max()
        self.plot_bounds = ((lo[0], hi[0]), (lo[min(1, d - 1)], hi[min(1, d - 1)]))

    # constructors -----------------------------------------------------------------------
    @classmethod
    def random(cls, num_modes: int = 6, dim: int = 2, box: float = 6.0, std: float = 1.0,
               weights: str = "random", min_separation: float = 3.0, seed: int = 0,
               name: str = "gmm", init_std: float = 1.0) -> "GaussianMixture":
        """Modes uniform in [-box, box]^dim (at least ``min_separation`` apart, by rejection),
        weights uniform on [0.5, 1.5] then normalised (``weights="random"``) or equal."""
        if num_modes < 1 or dim < 1:
            raise ValueError(f"num_modes and dim must be >= 1, got {num_modes}, {dim}")
        if weights not in ("random", "uniform"):
            raise ValueError(f"weights must be 'random' or 'uniform', got {weights!r}")
        rng = np.random.default_rng(seed)
        means: list[np.ndarray] = []
        for _ in range(100000):
            m = rng.uniform(-box, box, size=dim)
            if all(np.linalg.norm(m - o) >= min_separation for o in means):
                means.append(m)
                if len(means) == num_modes:
                    break
        else:
            raise ValueError(
                f"could not place {num_modes} modes {min_separation} apart in [-{box}, {box}]^{dim}")
        w = rng.uniform(0.5, 1.5, size=num_modes) if weights == "random" else None
        return cls(np.stack(means), w, std, name=name, init_std=init_std)

    @classmethod
    def circle(cls, num_modes: int = 8, radius: float = 4.0, std: float = 0.5,
               name: str = "gmm8", init_std: float = 1.0) -> "GaussianMixture":
        t = 2 * np.pi * np.arange(num_modes) / num_modes
        return cls(radius * np.stack([np.cos(t), np.sin(t)], 1), None, std, name=name,
                   init_std=init_std)

    @classmethod
    def grid(cls, side: int = 5, spacing: float = 2.0, std: float = 0.3,
             name: str = "gmm25", init_std: float = 1.0) -> "GaussianMixture":
        g = (np.arange(side) - (side - 1) / 2) * spacing
        xx, yy = np.meshgrid(g, g, indexing="ij")
        return cls(np.stack([xx.ravel(), yy.ravel()], 1), None, std, name=name, init_std=init_std)

    # density ------------------------------------------------------------------------------
    def params(self) -> dict:
        return {"means": self._means, "weights": self._weights, "stds": self._stds}

    def component_log_probs(self, x):
        d = self.dim
        sq = jnp.sum((x[None, :] - self.means) ** 2, axis=-1)
        return (jnp.log(self.weights) - 0.5 * sq / self.stds**2
                - d * jnp.log(self.stds) - 0.5 * d * _LOG_2PI)

    def log_prob(self, x):
        return logsumexp(self.component_log_probs(x))

    def sample(self, key, n):
        k1, k2 = jax.random.split(key)
        comp = jax.random.categorical(k1, jnp.log(self.weights), shape=(n,))
        eps = jax.random.normal(k2, (n, self.dim))
        return self.means[comp] + self.stds[comp, None] * eps

    def mode_labels(self, x, quantile: float = 0.999):
        """argmax responsibility; -1 when the point is outside the ``quantile`` ball
        (chi-square radius) of its nearest mode."""
        x = jnp.asarray(x)
        lead = x.shape[:-1]
        xf = x.reshape(-1, self.dim)
        lab = jnp.argmax(jax.vmap(self.component_log_probs)(xf), axis=-1)
        r = math.sqrt(chi2.ppf(quantile, self.dim))
        dist = jnp.linalg.norm(xf - self.means[lab], axis=-1) / self.stds[lab]
        lab = jnp.where(dist <= r, lab, -1)
        return lab.reshape(lead)

    def mode_weights(self):
        return self._weights.copy()


# =========================================================================================
# Double banana (Detommaso et al. 2018)
# =========================================================================================
class DoubleBanana(Target):
    """log p(u) = -||u||^2/2 - (y - F(u))^2 / (2 sigma^2),
    F(u) = log((1 - u1)^2 + 100 (u2 - u1^2)^2), y = log 30, sigma = 0.3 (REFERENCE.md §6).

    Two banana-shaped modes. No exact sampler: the ground truth is a fine-grid sampler,
    cross-checked by NUTS chains (see ground_truth.py)."""

    ground_truth_method = "grid"
    dim = 2

    def __init__(self, y: float = math.log(30.0), sigma: float = 0.3, prior_std: float = 1.0,
                 name: str = "double_banana", init_std: float = 1.0):
        if sigma <= 0 or prior_std <= 0:
            raise ValueError(f"sigma and prior_std must be > 0, got {sigma}, {prior_std}")
        self.name, self.y, self.sigma, self.prior_std = name, float(y), float(sigma), float(prior_std)
        self.init_std = float(init_std)
        self.plot_bounds = ((-2.0, 2.0), (-1.5, 2.5))
        self.grid_bounds = ((-4.0, 4.0), (-4.0, 6.0))

    def params(self):
        return {"y": self.y, "sigma": self.sigma, "prior_std": self.prior_std}

    def forward(self, u):
        return jnp.log((1.0 - u[0]) ** 2 + 100.0 * (u[1] - u[0] ** 2) ** 2)

    def log_prob(self, u):
        return (-0.5 * jnp.sum(u**2) / self.prior_std**2
                - 0.5 * (self.y - self.forward(u)) ** 2 / self.sigma**2)


# =========================================================================================
# Neal's funnel
# =========================================================================================
class Funnel(Target):
    """x0 ~ N(0, scale^2), x_{1..d-1} | x0 ~ N(0, exp(x0)) (variance e^{x0}); normalised,
    exact sampler."""

    normalized = True
    ground_truth_method = "exact"

    def __init__(self, dim: int = 2, scale: float = 3.0, name: str = "funnel",
                 init_std: float = 1.0):
        if dim < 2:
            raise ValueError(f"funnel dim must be >= 2, got {dim}")
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.name, self.dim, self.scale, self.init_std = name, int(dim), float(scale), float(init_std)
        self.plot_bounds = ((-8.0, 8.0), (-15.0, 15.0))

    def params(self):
        return {"dim": self.dim, "scale": self.scale}

    def log_prob(self, x):
        x0, rest = x[0], x[1:]
        lp0 = -0.5 * (x0 / self.scale) ** 2 - math.log(self.scale) - 0.5 * _LOG_2PI
        lpr = -0.5 * jnp.sum(rest**2) * jnp.exp(-x0) - 0.5 * (self.dim - 1) * (x0 + _LOG_2PI)
        return lp0 + lpr

    def sample(self, key, n):
        k0, k1 = jax.random.split(key)
        x0 = self.scale * jax.random.normal(k0, (n, 1))
        rest = jnp.exp(0.5 * x0) * jax.random.normal(k1, (n, self.dim - 1))
        return jnp.concatenate([x0, rest], axis=1)


# =========================================================================================
# Rings
# =========================================================================================
class Rings(Target):
    """2-D mixture of rings p(x) = sum_k pi_k exp(-(|x| - r_k)^2 / (2 s^2)) / Z_k (normalised).

    Z_k = 2 pi [s^2 exp(-r_k^2/(2 s^2)) + r_k s sqrt(2 pi) Phi(r_k / s)] is the exact area
    normaliser, so ``pi_k`` is the probability mass of ring k. Exact sampler: angle uniform,
    radius rho = r_k + s z with density ∝ (r_k + s z)_+ phi(z), drawn by rejection from the
    envelope (r_k + s|z|) phi(z) (a mixture of N(0,1) and a signed Rayleigh) with acceptance
    (r_k + s z)_+ / (r_k + s|z|).
    """

    normalized = True
    ground_truth_method = "exact"
    dim = 2

    def __init__(self, radii=(1.0, 2.5, 4.0), std: float = 0.2, weights=None,
                 name: str = "rings", init_std: float = 1.0):
        radii = np.asarray(radii, np.float64)
        if radii.ndim != 1 or np.any(radii <= 0):
            raise ValueError(f"radii must be positive numbers, got {radii}")
        if std <= 0:
            raise ValueError(f"std must be > 0, got {std}")
        k = len(radii)
        w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, np.float64)
        if w.shape != (k,) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"weights must be {k} non-negative numbers, got {weights}")
        w = w / w.sum()
        self.name, self.num_modes, self.init_std = name, k, float(init_std)
        self._radii, self._w, self.std = radii, w, float(std)
        self.radii = jnp.asarray(radii, jnp.float32)
        self.weights = jnp.asarray(w, jnp.float32)
        s = std
        from scipy.stats import norm
        z = 2 * np.pi * (s**2 * np.exp(-radii**2 / (2 * s**2))
                         + radii * s * np.sqrt(2 * np.pi) * norm.cdf(radii / s))
        self._log_z = np.log(z)
        self.log_z = jnp.asarray(self._log_z, jnp.float32)
        b = radii.max() + 4 * s
        self.plot_bounds = ((-b, b), (-b, b))
        self.grid_bounds = ((-b - 1, b + 1), (-b - 1, b + 1))

    def params(self):
        return {"radii": self._radii, "std": self.std, "weights": self._w}

    def _component_log_probs(self, x):
        rho = jnp.sqrt(jnp.sum(x**2) + 1e-30)
        return jnp.log(self.weights) - 0.5 * ((rho - self.radii) / self.std) ** 2 - self.log_z

    def log_prob(self, x):
        return logsumexp(self._component_log_probs(x))

    def _sample_radius(self, key, r):
        s = self.std
        w_normal = r
        w_rayleigh = s * math.sqrt(2.0 / math.pi)

        def draw(k):
            k1, k2, k3, k4 = jax.random.split(k, 4)
            use_normal = jax.random.uniform(k1) < w_normal / (w_normal + w_rayleigh)
            z_n = jax.random.normal(k2)
            sign = jnp.where(jax.random.uniform(k3) < 0.5, -1.0, 1.0)
            z_r = sign * jnp.sqrt(-2.0 * jnp.log1p(-jax.random.uniform(k4)))
            return jnp.where(use_normal, z_n, z_r)

        def cond(c):
            return ~c[2]

        def body(c):
            k, _, _ = c
            k, kd, ku = jax.random.split(k, 3)
            z = draw(kd)
            acc = jnp.maximum(r + s * z, 0.0) / (r + s * jnp.abs(z))
            return k, z, jax.random.uniform(ku) < acc

        _, z, _ = jax.lax.while_loop(cond, body, (key, jnp.float32(0.0), jnp.array(False)))
        return r + s * z

    def sample(self, key, n):
        kc, kt, kr = jax.random.split(key, 3)
        comp = jax.random.categorical(kc, jnp.log(self.weights), shape=(n,))
        theta = jax.random.uniform(kt, (n,), maxval=2 * jnp.pi)
        rho = jax.vmap(self._sample_radius)(jax.random.split(kr, n), self.radii[comp])
        return jnp.stack([rho * jnp.cos(theta), rho * jnp.sin(theta)], axis=1)

    def mode_labels(self, x):
        rho = jnp.linalg.norm(jnp.asarray(x), axis=-1)
        lab = jnp.argmin(jnp.abs(rho[..., None] - self.radii), axis=-1)
        far = jnp.min(jnp.abs(rho[..., None] - self.radii), axis=-1) > 4 * self.std
        return jnp.where(far, -1, lab)

    def mode_weights(self):
        return self._w.copy()


# =========================================================================================
# registry
# =========================================================================================
def _make_gmm(**kw):
    means = kw.pop("means", None)
    if means is not None:
        return GaussianMixture(means, kw.pop("weights", None), kw.pop("std", 1.0),
                               name=kw.pop("name", "gmm"), **kw)
    return GaussianMixture.random(**kw)


def _make_gmm_nd(**kw):
    kw.setdefault("dim", 10)
    kw.setdefault("num_modes", 4)
    kw.setdefault("box", 4.0)
    kw.setdefault("min_separation", 6.0)
    kw.setdefault("name", "gmm_nd")
    return _make_gmm(**kw)


def _make_logreg(**kw):
    return BayesianLogisticRegression.from_dataset(**kw)


_REGISTRY = {
    "gmm": _make_gmm,
    "gmm_nd": _make_gmm_nd,
    "gmm8": lambda **kw: GaussianMixture.circle(**kw),
    "gmm25": lambda **kw: GaussianMixture.grid(**kw),
    "double_banana": lambda **kw: DoubleBanana(**kw),
    "funnel": lambda **kw: Funnel(**kw),
    "rings": lambda **kw: Rings(**kw),
    "motion_planning": lambda **kw: MotionPlanning(**kw),
    "logreg": _make_logreg,
}


def _make_benchmark(function):
    return lambda **kw: BenchmarkFunction(function, **kw)


# optimisation benchmarks (GENNES paper; f = fitness, log_prob = -f, a box domain, f* = 0):
# policysearch.density.benchmarks
for _f in ("rastrigin", "ackley", "styblinski", "schwefel", "alpine1", "step"):
    _REGISTRY[_f] = _make_benchmark(_f)
TARGET_NAMES = tuple(_REGISTRY)


def make_target(name: str, **kwargs) -> Target:
    """Build a target by registry name (``TARGET_NAMES``) with keyword parameters."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown target {name!r}; valid names: {', '.join(TARGET_NAMES)}")
    try:
        return _REGISTRY[name](**kwargs)
    except TypeError as e:  # unexpected keyword
        raise ValueError(f"bad parameters for target {name!r}: {e}") from None
