"""Multimodal benchmark functions for global optimisation (GENNES paper, sec. 4.1 / app. A.1).

Every function has f* = 0 at a known point x*_0 and is evaluated with its optimum translated,
f(x) = f0(x - t), on a fixed box domain (REFERENCE.md sec. 8 has the corrected formulas; the
paper's Table 2 drops absolute values and the 2 pi of Ackley's cosine):

=============  =========================================================  =================
name           f0(z)                                                      domain, x*_0
=============  =========================================================  =================
rastrigin      10 d + sum(z^2 - 10 cos 2 pi z)                            [-3, 3]^d, 0
ackley         -20 exp(-0.2 sqrt(mean z^2)) - exp(mean cos 2 pi z) + 20 + e [-10, 10]^d, 0
styblinski     sum(z^4 - 16 z^2 + 5 z) / 2 + 39.16616570377142 d          [-10, 10]^d, -2.9035...
schwefel       418.9828872724338 d - sum z sin sqrt|z|                    [-500, 500]^d, 420.9687...
alpine1        sum |z sin z + 0.1 z|                                      [-10, 10]^d, 0
step           sum floor(z + 0.5)^2 (piecewise constant: NOT differentiable) [-5, 5]^d, 0
=============  =========================================================  =================

Use::

    from policysearch.density import make_target
    f = make_target("rastrigin", dim=10, shift=0.5, seed=3)   # t ~ U(-0.5, 0.5)^d from seed 3
    f.fitness(x)                   # [..., d] -> [...]: f(x) with the target's own translation t
    f.log_prob(x)                  # -f(x) on one point (the density view, p ∝ exp(-f))
    f.value(x, t)                  # f on one point with a translation t given as data: a traced
                                   # argument, so vmapping over folds / changing t never retraces
    ts = f.random_translations(key, folds)   # [folds, d], t ~ U(-shift, shift)^d
    f.optimum(t)                   # x* = x*_0 + t, where f = 0
    f.lower, f.upper               # [d] numpy arrays: the domain

``shift`` is the half-width of the translation: 0.5 is the authors' setting (keeps the optimum
near the centre of the domain, which favours a generator started there); a wider one (e.g. 2) is
the stress test. ``shift=0`` gives the untranslated function.

Outside the domain the function is f(clip(x)) + ||x - clip(x)||^2: continuous, equal to f inside,
>= 0 everywhere (so regret = f is never negative, even for Schwefel, whose raw formula is
unbounded below outside the box), with a gradient pointing back inside, and exp(-f) normalisable
(the density view, e.g. for the ``sample`` CLI).

Density view / ground truth: every function but Ackley is a sum over coordinates, so
exp(-f) is a product of 1-D densities and ``sample(key, n)`` is exact up to a fine grid: each
coordinate by the inverse CDF of its 1-D density (65 537-point grid over the domain plus a
margin of 6 where the penalty leaves mass < e^-36); ``ground_truth_method`` is then "exact".
Ackley (not separable) uses NUTS chains, which its many modes defeat (the ground-truth check
reports it).

Rastrigin, Ackley and Styblinski-Tang are written in cancellation-free forms (10 - 10 cos 2 pi z =
20 sin^2 pi z; 1 - exp(...) as -expm1; the quartic factored around its double root), so float32
resolves regrets far below 1e-6 near the optimum. Schwefel keeps its constant: in float32 its
regret is resolved to ~1e-4 d only. Square roots are guarded so the gradient at z = 0 is finite.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .base import Target

__all__ = ["BENCHMARK_NAMES", "BenchmarkFunction", "benchmark_formula"]

STYBLINSKI_X = -2.903534027771177      # root of 4 z^3 - 32 z + 5 = 0
STYBLINSKI_C = 39.16616570377142       # -f0(STYBLINSKI_X) per dimension
SCHWEFEL_X = 420.9687463599821         # stationary point of z sin sqrt z
SCHWEFEL_C = 418.9828872724338         # SCHWEFEL_X sin sqrt(SCHWEFEL_X)


def _safe_sqrt(v):
    """sqrt with a finite (zero) gradient at 0."""
    pos = v > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, v, 1.0)), 0.0)


def _rastrigin(z):
    return jnp.sum(z**2 + 20.0 * jnp.sin(jnp.pi * z) ** 2)


def _ackley(z):
    r = _safe_sqrt(jnp.mean(z**2))
    return -20.0 * jnp.expm1(-0.2 * r) - math.e * jnp.expm1(-2.0 * jnp.mean(jnp.sin(jnp.pi * z) ** 2))


def _styblinski(z):
    # = sum(z^4 - 16 z^2 + 5 z) / 2 + C d, factored around its double root z* (no cancellation)
    s = STYBLINSKI_X
    return jnp.sum((z - s) ** 2 * (z**2 + 2.0 * s * z + 3.0 * s**2 - 16.0)) / 2.0


def _schwefel(z):
    return SCHWEFEL_C * z.shape[-1] - jnp.sum(z * jnp.sin(_safe_sqrt(jnp.abs(z))))


def _alpine1(z):
    return jnp.sum(jnp.abs(z * jnp.sin(z) + 0.1 * z))


def _step(z):
    return jnp.sum(jnp.floor(z + 0.5) ** 2)


# name: (f0, half-width of the box domain centred at 0, x*_0 per coordinate, differentiable)
_FUNCTIONS = {
    "rastrigin": (_rastrigin, 3.0, 0.0, True),
    "ackley": (_ackley, 10.0, 0.0, True),
    "styblinski": (_styblinski, 10.0, STYBLINSKI_X, True),
    "schwefel": (_schwefel, 500.0, SCHWEFEL_X, True),
    "alpine1": (_alpine1, 10.0, 0.0, True),
    "step": (_step, 5.0, 0.0, False),
}
BENCHMARK_NAMES = tuple(_FUNCTIONS)


def benchmark_formula(name: str):
    """The untranslated f0 of ``name`` on one point (jnp, any float dtype), without the domain
    treatment."""
    if name not in _FUNCTIONS:
        raise ValueError(f"unknown benchmark function {name!r}; valid names: {', '.join(BENCHMARK_NAMES)}")
    return _FUNCTIONS[name][0]


#: grid of the per-coordinate inverse CDF (exact sampler of the separable functions)
SAMPLER_GRID = 65537
SAMPLER_MARGIN = 6.0


class BenchmarkFunction(Target):
    """A benchmark function as a target: fitness f, log_prob -f, a box domain, f* = 0.

    Args:
      function: one of ``BENCHMARK_NAMES``.
      dim: d >= 1.
      shift: half-width of the random translation t ~ U(-shift, shift)^d (>= 0).
      seed: seed of the target's own translation (the one ``log_prob`` / ``fitness`` use).
    """

    ground_truth_method = "nuts"
    f_star = 0.0

    def __init__(self, function: str = "rastrigin", dim: int = 10, shift: float = 0.5,
                 seed: int = 0, name: str | None = None):
        if function not in _FUNCTIONS:
            raise ValueError(f"unknown benchmark function {function!r}; valid names: "
                             f"{', '.join(BENCHMARK_NAMES)}")
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim={dim!r} is invalid: must be an integer >= 1")
        if not (isinstance(shift, (int, float)) and math.isfinite(shift) and shift >= 0):
            raise ValueError(f"shift={shift!r} is invalid: must be a finite number >= 0")
        f0, hw, xstar, diff = _FUNCTIONS[function]
        if shift > hw:
            raise ValueError(f"shift={shift!r} is invalid for {function}: must be <= {hw} "
                             "(the translated optimum must stay in the domain)")
        self.function, self.name, self.dim = function, name or function, int(dim)
        self.shift, self.seed, self.differentiable = float(shift), int(seed), diff
        self._f0, self.halfwidth, self.x_star0 = f0, hw, xstar
        self.lower = np.full(self.dim, -hw)
        self.upper = np.full(self.dim, hw)
        t = np.random.default_rng(seed).uniform(-shift, shift, size=self.dim)
        self.separable = function != "ackley"
        self.ground_truth_method = "exact" if self.separable else "nuts"
        self.translation = jnp.asarray(t, jnp.float32)
        self._t = t
        self.init_std = hw / 2.0   # only used by code that ignores init_particles below
        self.plot_bounds = ((-hw, hw), (-hw, hw))
        self.grid_bounds = self.plot_bounds

    def params(self) -> dict:
        return {"function": self.function, "dim": self.dim, "shift": self.shift,
                "translation": self._t}

    def value(self, x: jax.Array, translation: jax.Array) -> jax.Array:
        """f(x) = f0(clip(x) - t) + ||x - clip(x)||^2 on one point ``x [d]``; ``translation [d]``
        is an ordinary (traceable) argument."""
        xc = jnp.clip(x, -self.halfwidth, self.halfwidth)
        return self._f0(xc - translation) + jnp.sum((x - xc) ** 2)

    def log_prob(self, x: jax.Array) -> jax.Array:
        return -self.value(x, self.translation.astype(jnp.asarray(x).dtype))

    def optimum(self, translation=None) -> jax.Array:
        """x* = x*_0 + t (the target's own t when None); f(x*) = 0."""
        t = self.translation if translation is None else jnp.asarray(translation)
        return self.x_star0 + t

    def random_translations(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` translations t ~ U(-shift, shift)^d: [n, d] float32."""
        return jax.random.uniform(key, (n, self.dim), minval=-self.shift, maxval=self.shift)

    @property
    def has_exact_sampler(self) -> bool:
        return self.separable

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` exact draws from exp(-f) (separable functions; see the module docstring): [n, d]."""
        if not self.separable:
            raise NotImplementedError(f"target {self.name!r} is not separable: no exact sampler")
        from .samplers import grid_inverse_cdf

        lo, hi = -self.halfwidth - SAMPLER_MARGIN, self.halfwidth + SAMPLER_MARGIN

        def coordinate(t_i, u):   # f restricted to one coordinate with translation t_i
            icdf = grid_inverse_cdf(lambda x: -self.value(x[None], t_i[None]), lo, hi, SAMPLER_GRID)
            return icdf(u)

        u = jax.random.uniform(key, (self.dim, n), minval=1e-7, maxval=1.0 - 1e-7)
        return jax.vmap(coordinate)(self.translation, u).T

    @property
    def init_mean(self) -> jax.Array:
        return jnp.zeros(self.dim)

    def init_particles(self, key: jax.Array, n: int) -> jax.Array:
        """Initial points uniform in the domain (as for the paper's baselines): [n, d]."""
        return jax.random.uniform(key, (n, self.dim), minval=-self.halfwidth, maxval=self.halfwidth)
