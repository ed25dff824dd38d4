"""Sample-quality metrics: MMD, KSD, mode coverage / per-mode mass error, weight ESS.

MMD (Gretton et al. 2012), unbiased U-statistic with an RBF kernel
k(x, y) = exp(-||x - y||^2 / (2 h^2)):

    MMD^2_u = 1/(n(n-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
              - 2/(n m) sum_{i, j} k(x_i, y_j)

(the diagonals of Kxx and Kyy are dropped; it can be slightly negative). The default bandwidth
h is the median heuristic: the median of the pairwise distances of the POOLED sample x ∪ y
(distinct pairs; computed on at most ``max_median_points`` points taken by a fixed stride).
:func:`mmd` returns the bandwidth used.

For curves (many particle sets against one reference set) :class:`MMDToReference` fixes the
bandwidth once (median heuristic on the reference set, unless given) and precomputes the
reference-reference term, so every checkpoint, method and seed is compared under the same
kernel.

KSD (Liu, Lee & Jordan 2016; Chwialkowski et al. 2016), U-statistic with the Stein kernel of
an RBF kernel; it needs only the score s = grad log p:

    u(x, y) = s(x).s(y) k + s(x).grad_y k + s(y).grad_x k + tr(grad_x grad_y k)
            = k [ s(x).s(y) + (s(x) - s(y)).(x - y)/h^2 + d/h^2 - ||x - y||^2/h^4 ]
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

__all__ = [
    "sq_dists",
    "median_bandwidth",
    "mmd2_unbiased",
    "mmd",
    "MMDResult",
    "MMDToReference",
    "ksd",
    "ksd2_unbiased",
    "KSDResult",
    "mode_stats",
    "ModeStats",
    "ess_from_log_weights",
]


def sq_dists(x: jax.Array, y: jax.Array) -> jax.Array:
    """Pairwise squared Euclidean distances [n, m] (clipped at 0)."""
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    d = (jnp.sum(x * x, -1)[:, None] + jnp.sum(y * y, -1)[None, :] - 2.0 * x @ y.T)
    return jnp.maximum(d, 0.0)


def median_bandwidth(z: jax.Array, max_points: int = 2000) -> jax.Array:
    """Median of the pairwise distances ||z_i - z_j|| over distinct pairs i < j.

    With more than ``max_points`` rows, a fixed-stride subset of rows is used."""
    z = jnp.asarray(z)
    n = z.shape[0]
    if n < 2:
        raise ValueError(f"median heuristic needs at least 2 points, got {n}")
    if n > max_points:
        stride = -(-n // max_points)
        z = z[::stride]
        n = z.shape[0]
    iu = np.triu_indices(n, k=1)
    d = jnp.sqrt(sq_dists(z, z)[iu])
    return jnp.median(d)


def _offdiag_mean(k: jax.Array) -> jax.Array:
    n = k.shape[0]
    return (jnp.sum(k) - jnp.sum(jnp.diag(k))) / (n * (n - 1))


def mmd2_unbiased(x: jax.Array, y: jax.Array, bandwidth) -> jax.Array:
    """Unbiased MMD^2 between samples x [n, d] and y [m, d] (n, m >= 2), RBF bandwidth h."""
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError(f"unbiased MMD needs >= 2 points per sample, got {x.shape[0]}, {y.shape[0]}")
    g = 1.0 / (2.0 * jnp.asarray(bandwidth) ** 2)
    kxx = jnp.exp(-g * sq_dists(x, x))
    kyy = jnp.exp(-g * sq_dists(y, y))
    kxy = jnp.exp(-g * sq_dists(x, y))
    return _offdiag_mean(kxx) + _offdiag_mean(kyy) - 2.0 * jnp.mean(kxy)


class MMDResult(NamedTuple):
    mmd2: jax.Array        # unbiased MMD^2 (may be slightly negative)
    bandwidth: jax.Array   # RBF bandwidth h used

    @property
    def mmd(self):
        """sqrt(max(MMD^2, 0))."""
        return jnp.sqrt(jnp.maximum(self.mmd2, 0.0))


def mmd(x, y, bandwidth=None, max_median_points: int = 2000) -> MMDResult:
    """Unbiased MMD^2 with an RBF kernel; bandwidth by the median heuristic on the pooled sample
    unless given."""
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must be [n, d] and [m, d], got {x.shape}, {y.shape}")
    if bandwidth is None:
        bandwidth = median_bandwidth(jnp.concatenate([x, y], 0), max_median_points)
    h = jnp.asarray(bandwidth, jnp.float32)
    return MMDResult(mmd2_unbiased(x, y, h), h)


class MMDToReference:
    """MMD^2 of many sample sets against one fixed reference set under one fixed kernel.

    ``ref = MMDToReference(y, bandwidth=None)``: bandwidth = median heuristic on ``y``;
    ``ref(x)`` -> unbiased MMD^2 (jit/vmap-able, ``x [n, d]`` with n >= 2)."""

    def __init__(self, y, bandwidth=None, max_median_points: int = 2000):
        self.y = jnp.asarray(y, jnp.float32)
        if self.y.ndim != 2 or self.y.shape[0] < 2:
            raise ValueError(f"reference must be [m >= 2, d], got {self.y.shape}")
        if bandwidth is None:
            bandwidth = median_bandwidth(self.y, max_median_points)
        self.bandwidth = float(bandwidth)
        g = 1.0 / (2.0 * self.bandwidth**2)
        self._g = g
        # reference term computed in row blocks to bound memory
        m = self.y.shape[0]
        block = jax.jit(lambda a, b: jnp.sum(jnp.exp(-g * sq_dists(a, b))))
        tot = 0.0
        for s in range(0, m, 1024):
            tot += float(block(self.y[s:s + 1024], self.y))
        self.kyy = (tot - m) / (m * (m - 1))

    def __call__(self, x):
        x = jnp.asarray(x)
        kxx = jnp.exp(-self._g * sq_dists(x, x))
        kxy = jnp.exp(-self._g * sq_dists(x, self.y))
        return _offdiag_mean(kxx) + self.kyy - 2.0 * jnp.mean(kxy)


class KSDResult(NamedTuple):
    ksd2: jax.Array
    bandwidth: jax.Array


def ksd2_unbiased(x, scores, bandwidth) -> jax.Array:
    """Unbiased KSD^2 U-statistic of x [n, d] (n >= 2) given scores grad log p(x) [n, d]."""
    x = jnp.asarray(x)
    s = jnp.asarray(scores)
    n, d = x.shape
    h2 = jnp.asarray(bandwidth) ** 2
    d2 = sq_dists(x, x)
    k = jnp.exp(-0.5 * d2 / h2)
    ss = s @ s.T
    sx = jnp.sum(s * x, -1)
    # (s_i - s_j).(x_i - x_j) = s_i.x_i - s_i.x_j - s_j.x_i + s_j.x_j
    sdx = sx[:, None] - s @ x.T - (s @ x.T).T + sx[None, :]
    u = k * (ss + sdx / h2 + d / h2 - d2 / h2**2)
    return (jnp.sum(u) - jnp.sum(jnp.diag(u))) / (n * (n - 1))


def ksd(x, score_fn: Callable | None = None, scores=None, bandwidth=None,
        max_median_points: int = 2000) -> KSDResult:
    """KSD^2 (U-statistic, RBF Stein kernel) of the sample x against p, given either
    ``score_fn`` (x [d] -> grad log p(x)) or precomputed ``scores`` [n, d]. Bandwidth: median
    heuristic on x unless given."""
    x = jnp.asarray(x)
    if scores is None:
        if score_fn is None:
            raise ValueError("ksd needs score_fn or scores")
        scores = jax.vmap(score_fn)(x)
    if bandwidth is None:
        bandwidth = median_bandwidth(x, max_median_points)
    h = jnp.asarray(bandwidth, jnp.float32)
    return KSDResult(ksd2_unbiased(x, scores, h), h)


class ModeStats(NamedTuple):
    coverage: float            # fraction of modes (weight >= min_weight) with >= min_count samples
    covered: np.ndarray        # bool [K]
    mass: np.ndarray           # empirical fraction of samples per mode [K] (of all samples)
    mass_error: np.ndarray     # |mass - true weight| per mode [K]
    tv: float                  # 0.5 * sum |mass - weight| (+ 0.5 * unassigned fraction)
    unassigned: float          # fraction of samples with label -1


def mode_stats(labels, weights, min_count: int = 1, min_weight: float = 0.0) -> ModeStats:
    """Mode coverage and per-mode mass error of a sample given its mode labels
    (``target.mode_labels(x)``, -1 = no mode) and the true mode weights [K].

    Coverage counts only modes of weight >= ``min_weight`` (e.g. 0.01 to ignore classes that
    carry no mass); ``tv`` is the total-variation distance between the empirical and true mode
    masses, with "no mode" as an extra category of true weight 0."""
    lab = np.asarray(labels).ravel()
    w = np.asarray(weights, np.float64)
    k = len(w)
    n = max(len(lab), 1)
    counts = np.array([(lab == i).sum() for i in range(k)], np.float64)
    mass = counts / n
    err = np.abs(mass - w)
    unassigned = float((lab < 0).sum() / n)
    covered = counts >= min_count
    relevant = w >= min_weight
    cov = float(covered[relevant].mean()) if relevant.any() else 1.0
    return ModeStats(cov, covered, mass, err,
                     float(0.5 * (err.sum() + unassigned)), unassigned)


def ess_from_log_weights(log_w) -> jax.Array:
    """Kish effective sample size (sum w)^2 / sum w^2 from unnormalised log-weights."""
    log_w = jnp.asarray(log_w)
    return jnp.exp(2.0 * logsumexp(log_w) - logsumexp(2.0 * log_w))
