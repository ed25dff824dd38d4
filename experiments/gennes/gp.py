"""A small exact Gaussian process in JAX for Bayesian optimisation (GENNES, section 4.2).

What GPyOpt (the paper's library) does by default, in float64:

* kernel ``amp * Matern52`` with one lengthscale per input (ARD) plus learned Gaussian noise;
* targets normalised to mean 0 / std 1 (``normalize_Y``), inputs mapped to the unit cube of the
  search domain (so lengthscale bounds and restarts mean the same thing on every task);
* hyperparameters by maximum marginal likelihood with restarts (GPy's ``optimize_restarts``):
  the previous optimum (warm start) plus ``restarts`` random draws, each run by scipy's
  L-BFGS-B within ``BOUNDS`` on a compiled float64 likelihood + gradient; the best wins (a
  version with the restarts vmapped through ``optax.lbfgs`` in ``lax.scan`` took ~50 s to
  compile and had not finished one d = 20 fit after 9 minutes on the loaded 2-core box; not
  investigated further);
* Expected Improvement with GPyOpt's conventions: minimisation, incumbent = the smallest
  posterior mean at the observed points, ``jitter`` (0.01) on the normalised scale, predictive
  std including the noise (GPyOpt ``predict(with_noise=True)``).

Data live in fixed-capacity buffers with a mask (``GPData``): observed rows enter the kernel
matrix, padded rows are the identity and a zero target, which leaves the likelihood and the
posterior of the observed rows exactly unchanged. A BO run that adds one point per step
therefore compiles its fit and acquisition once, not once per step.

Why not a library: tinygp 0.3.1 installs cleanly with the project's pins and works (its
``Matern52`` needs ``distance=L2Distance()``; the default L1 distance is not positive definite in
d > 1 and gives a -inf likelihood), but it has no masked fixed-capacity data, so every BO step
would retrace. The posterior, likelihood and EI here are tested against scikit-learn's
``GaussianProcessRegressor`` and a Monte-Carlo estimate (tests/test_gennes_experiments.py).

All public functions run under ``jax.enable_x64(True)``; call them with float64-able arrays.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.linalg import cho_solve, solve_triangular
from jax.scipy.stats import norm

__all__ = [
    "GPData",
    "GPHyper",
    "GPPosterior",
    "BOUNDS",
    "empty_data",
    "add_point",
    "set_points",
    "matern52",
    "log_marginal_likelihood",
    "fit",
    "posterior",
    "predict",
    "expected_improvement",
    "DEFAULT_JITTER",
]

DEFAULT_JITTER = 0.01
_SQRT5 = math.sqrt(5.0)
#: box on the hyperparameters (log space; unit-cube inputs, normalised targets)
BOUNDS = {
    "log_amp": (math.log(1e-2), math.log(1e2)),
    "log_noise": (math.log(1e-6), math.log(10.0)),
    "log_ls": (math.log(1e-3), math.log(1e3)),
}


@struct.dataclass
class GPData:
    """Fixed-capacity observations: ``x [cap, d]`` in the unit cube, raw ``y [cap]``, ``mask [cap]``."""

    x: jax.Array
    y: jax.Array
    mask: jax.Array

    @property
    def count(self) -> jax.Array:
        return jnp.sum(self.mask)


@struct.dataclass
class GPHyper:
    """Log hyperparameters of the normalised-target GP: amplitude, noise variance, lengthscales [d]."""

    log_amp: jax.Array
    log_noise: jax.Array
    log_ls: jax.Array

    @classmethod
    def default(cls, dim: int) -> "GPHyper":
        with jax.enable_x64(True):
            return cls(jnp.zeros((), jnp.float64), jnp.asarray(math.log(1e-2)), jnp.full((dim,), math.log(0.3)))


@struct.dataclass
class GPPosterior:
    """What prediction needs: data, hyperparameters, Cholesky factor, ``alpha = K^-1 y_n``, y scaling."""

    data: GPData
    hyper: GPHyper
    chol: jax.Array
    alpha: jax.Array
    y_mean: jax.Array
    y_std: jax.Array
    f_min: jax.Array  # smallest posterior mean at the observed points (normalised scale)


def empty_data(capacity: int, dim: int) -> GPData:
    with jax.enable_x64(True):
        return GPData(jnp.zeros((capacity, dim), jnp.float64), jnp.zeros((capacity,), jnp.float64),
                      jnp.zeros((capacity,), bool))


def set_points(data: GPData, x, y) -> GPData:
    """Put ``n`` points (unit-cube ``x [n, d]``, ``y [n]``) in the first rows; the rest are masked out."""
    with jax.enable_x64(True):
        x = jnp.asarray(x, jnp.float64)
        y = jnp.asarray(y, jnp.float64)
        n = x.shape[0]
        if n > data.x.shape[0]:
            raise ValueError(f"{n} points do not fit in a GP buffer of capacity {data.x.shape[0]}")
        return GPData(data.x.at[:n].set(x), data.y.at[:n].set(y), jnp.arange(data.x.shape[0]) < n)


@jax.jit
def add_point(data: GPData, x, y) -> GPData:
    """Append one observation in the first free row (no-op check: the buffer must not be full)."""
    i = jnp.sum(data.mask)
    return GPData(data.x.at[i].set(x.astype(data.x.dtype)), data.y.at[i].set(y.astype(data.y.dtype)),
                  data.mask.at[i].set(True))


def _clip(h: GPHyper) -> GPHyper:
    return GPHyper(jnp.clip(h.log_amp, *BOUNDS["log_amp"]), jnp.clip(h.log_noise, *BOUNDS["log_noise"]),
                   jnp.clip(h.log_ls, *BOUNDS["log_ls"]))


def matern52(x1: jax.Array, x2: jax.Array, log_ls: jax.Array, log_amp: jax.Array) -> jax.Array:
    """ARD Matern 5/2 kernel matrix ``[n1, n2]``: amp (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)."""
    a = x1 / jnp.exp(log_ls)
    b = x2 / jnp.exp(log_ls)
    r2 = jnp.maximum(jnp.sum(a * a, -1)[:, None] + jnp.sum(b * b, -1)[None, :] - 2.0 * a @ b.T, 0.0)
    pos = r2 > 1e-30
    r = jnp.sqrt(jnp.where(pos, r2, 1.0))  # safe sqrt: the kernel is flat (zero slope) at r = 0
    r = jnp.where(pos, r, 0.0)
    return jnp.exp(log_amp) * (1.0 + _SQRT5 * r + (5.0 / 3.0) * r2 * pos) * jnp.exp(-_SQRT5 * r)


def _normalise(data: GPData):
    n = jnp.maximum(jnp.sum(data.mask), 1)
    mean = jnp.sum(jnp.where(data.mask, data.y, 0.0)) / n
    var = jnp.sum(jnp.where(data.mask, (data.y - mean) ** 2, 0.0)) / n
    std = jnp.where(var > 0, jnp.sqrt(var), 1.0)
    return jnp.where(data.mask, (data.y - mean) / std, 0.0), mean, std


def _gram(data: GPData, h: GPHyper) -> jax.Array:
    m = data.mask
    k = matern52(data.x, data.x, h.log_ls, h.log_amp) + jnp.exp(h.log_noise) * jnp.eye(m.shape[0])
    both = m[:, None] & m[None, :]
    return jnp.where(both, k, jnp.eye(m.shape[0]))


def _nll(h: GPHyper, data: GPData, yn: jax.Array) -> jax.Array:
    """Negative log marginal likelihood of the normalised targets (observed rows only)."""
    h = _clip(h)
    chol = jnp.linalg.cholesky(_gram(data, h))
    alpha = cho_solve((chol, True), yn)
    n = jnp.sum(data.mask)
    return 0.5 * yn @ alpha + jnp.sum(jnp.log(jnp.diag(chol))) + 0.5 * n * math.log(2 * math.pi)


def log_marginal_likelihood(data: GPData, hyper: GPHyper) -> jax.Array:
    """log p(y_normalised | X, hyper), as scikit-learn's ``log_marginal_likelihood`` with normalize_y."""
    with jax.enable_x64(True):
        return -_lml_jit(data, hyper)


@jax.jit
def _lml_jit(data, hyper):
    yn, _, _ = _normalise(data)
    return _nll(hyper, data, yn)


def _random_hypers(key: jax.Array, dim: int, n: int) -> GPHyper:
    """``n`` random starts: amplitude in [0.3, 3], noise in [1e-4, 0.3], lengthscales in [0.05, 2]
    (log-uniform; unit-cube inputs, normalised targets)."""
    k1, k2, k3 = jax.random.split(key, 3)
    u = lambda k, lo, hi, shape: jax.random.uniform(k, shape, jnp.float64, lo, hi)  # noqa: E731
    return GPHyper(u(k1, math.log(0.3), math.log(3.0), (n,)), u(k2, math.log(1e-4), math.log(0.3), (n,)),
                   u(k3, math.log(0.05), math.log(2.0), (n, dim)))


@jax.jit
def _nll_and_grad(theta: jax.Array, data: GPData) -> tuple[jax.Array, jax.Array]:
    """Negative log likelihood and its gradient at the flat log hyperparameters
    ``theta = [log_amp, log_noise, log_ls...]`` (what scipy's L-BFGS-B sees)."""
    yn, _, _ = _normalise(data)
    return jax.value_and_grad(lambda th: _nll(_unflatten(th), data, yn))(theta)


def _flatten(h: GPHyper) -> np.ndarray:
    return np.concatenate([[float(h.log_amp), float(h.log_noise)], np.asarray(h.log_ls, np.float64)])


def _unflatten(theta) -> GPHyper:
    return GPHyper(theta[0], theta[1], theta[2:])


def _theta_bounds(dim: int) -> list[tuple[float, float]]:
    return [BOUNDS["log_amp"], BOUNDS["log_noise"]] + [BOUNDS["log_ls"]] * dim


def fit(key: jax.Array, data: GPData, warm: GPHyper | None = None, restarts: int = 4,
        maxiter: int = 200) -> tuple[GPHyper, float]:
    """Maximum-likelihood hyperparameters, as GPy's ``optimize_restarts`` (GPyOpt's default):
    scipy L-BFGS-B in log space within ``BOUNDS`` from ``warm`` (default ``GPHyper.default``) and
    from ``restarts`` random starts drawn with ``key``; the best likelihood wins. The likelihood and
    its gradient are one compiled float64 program (fixed data capacity: compiled once per shape).
    Returns (best hyper, its log marginal likelihood)."""
    from scipy.optimize import minimize

    dim = data.x.shape[1]
    with jax.enable_x64(True):
        warm = GPHyper.default(dim) if warm is None else warm
        starts = [_flatten(warm)] + [_flatten(jax.tree.map(lambda t: t[i], _random_hypers(key, dim, restarts)))
                                     for i in range(restarts)]

        def fun(theta):
            v, g = _nll_and_grad(jnp.asarray(theta, jnp.float64), data)
            v, g = float(v), np.asarray(g, np.float64)
            if not np.isfinite(v):
                return 1e25, np.zeros_like(g)
            return v, np.where(np.isfinite(g), g, 0.0)

        best_theta, best_v = starts[0], np.inf
        for theta0 in starts:
            res = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=_theta_bounds(dim),
                           options={"maxiter": maxiter})
            if res.fun < best_v:
                best_theta, best_v = res.x, float(res.fun)
        return _unflatten(jnp.asarray(best_theta, jnp.float64)), -best_v


@jax.jit
def _posterior_jit(data: GPData, hyper: GPHyper) -> GPPosterior:
    hyper = _clip(hyper)
    yn, mean, std = _normalise(data)
    chol = jnp.linalg.cholesky(_gram(data, hyper))
    alpha = cho_solve((chol, True), yn)
    post = GPPosterior(data, hyper, chol, alpha, mean, std, jnp.zeros(()))
    mu, _ = _predict_normalised(post, data.x, with_noise=False)
    return post.replace(f_min=jnp.min(jnp.where(data.mask, mu, jnp.inf)))


def posterior(data: GPData, hyper: GPHyper) -> GPPosterior:
    """Condition the GP on the observed rows of ``data`` with the given hyperparameters."""
    with jax.enable_x64(True):
        return _posterior_jit(data, jax.tree.map(lambda t: jnp.asarray(t, jnp.float64), hyper))


def _predict_normalised(post: GPPosterior, x: jax.Array, with_noise: bool = True):
    """Posterior mean and variance on the normalised scale at unit-cube points ``x [n, d]``."""
    h, m = post.hyper, post.data.mask
    ks = jnp.where(m[None, :], matern52(x, post.data.x, h.log_ls, h.log_amp), 0.0)  # [n, cap]
    mu = ks @ post.alpha
    v = solve_triangular(post.chol, ks.T, lower=True)  # [cap, n]
    var = jnp.exp(h.log_amp) - jnp.sum(v * v, axis=0) + jnp.where(with_noise, jnp.exp(h.log_noise), 0.0)
    return mu, jnp.maximum(var, 1e-12)


def predict(post: GPPosterior, x, with_noise: bool = True):
    """Posterior mean and variance of y (original scale) at unit-cube points ``x [n, d]``."""
    with jax.enable_x64(True):
        mu, var = _predict_normalised(post, jnp.asarray(x, jnp.float64), with_noise)
        return post.y_mean + post.y_std * mu, post.y_std**2 * var


def expected_improvement(post: GPPosterior, x: jax.Array, jitter: float = DEFAULT_JITTER) -> jax.Array:
    """EI for minimisation at one unit-cube point ``x [d]`` (normalised scale, GPyOpt's formula):
    ``u = (f_min - mu - jitter) / s``, ``EI = s (u Phi(u) + phi(u))``. Differentiable; call inside
    ``jax.enable_x64(True)`` (or through a jitted wrapper traced there)."""
    mu, var = _predict_normalised(post, x[None, :].astype(post.alpha.dtype))
    s = jnp.sqrt(var[0])
    u = (post.f_min - mu[0] - jitter) / s
    return s * (u * norm.cdf(u) + norm.pdf(u))
