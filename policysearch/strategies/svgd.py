"""Stein Variational Gradient Descent (Liu & Wang 2016) with a pluggable gradient source.

Target ``p(x) ∝ exp(-f(x))`` (strategies minimise ``f``). Every generation moves the particles by

    phi(x_i) = 1/n sum_j [ k(x_j, x_i) g_j + c * grad_{x_j} k(x_j, x_i) ],   g_j ≈ grad log p(x_j)

(kernel-smoothed driving force + repulsion, RBF kernel, median-heuristic bandwidth by default)
through an optax optimiser applied to ``-phi`` (as blackjax does). Gradient sources:

* ``"autodiff"``: ``g_j = -grad f(x_j)`` by ``jax.grad`` of the static ``objective`` (f on one
  point ``[dim] -> scalar``). ``ask`` returns the particles themselves (``pop_size`` must be 1);
  their fitness only feeds the best-so-far record.
* ``"es"``: Gaussian-smoothing (ES) estimate from ``pop_size`` antithetic samples per particle,
  ``x_j ± sigma eps``: ``g_j = -1/(m sigma) sum_l f_l eps_l`` (raw f by default, the unbiased
  estimate of the smoothed gradient; ``fitness_shaping="centered_ranks"`` as in evosax SV_Open_ES).
  Works on any black-box f, e.g. negative RL returns.
* ``"surrogate"``: gradient-free SVGD (GF-SVGD, Han & Liu 2018): the driving force uses a
  surrogate density rho with a tractable gradient, here a Gaussian KDE of the current particles
  with std ``params.surrogate_std``, and every term j is re-weighted by ``w_j ∝ rho(x_j)/p(x_j)``
  (self-normalised): ``phi(x_i) = sum_j w_j [k(x_j, x_i) grad log rho(x_j) + grad_{x_j} k(x_j, x_i)]``.
  ``ask`` returns the particles (``pop_size`` must be 1).

Kernel space (static): ``"parameters"`` (the RBF on the particles) or ``"actions"``: the RBF on
a generic embedding ``embed(x, context)`` of the particles (for policies, their actions at probe
observations), with the repulsion pulled back by a vector-Jacobian product through ``embed``
(``kernels.embedded_svgd_direction``; sources ``"autodiff"`` and ``"es"``); the median bandwidth
there is floored at 1 % of the embedding's coordinate scale (``kernels.embedding_bandwidth_floor``).

Optimisers (static name; the learning rate is ``params.learning_rate``, traced):
``"adagrad_momentum"`` (default; Liu & Wang's reference code: ``hist = g^2`` at the first step,
then ``0.9 hist + 0.1 g^2``; step ``lr * phi / (1e-6 + sqrt(hist))``), ``"adam"``
(``optax.adam``), ``"sgd"`` (``x += lr * phi``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from policysearch import kernels
from policysearch.strategies import base

__all__ = [
    "SOURCES",
    "OPTIMIZERS",
    "FITNESS_SHAPINGS",
    "SVGDParams",
    "SVGDState",
    "SVGD",
    "scale_by_adagrad_momentum",
]

SOURCES = ("autodiff", "es", "surrogate")
OPTIMIZERS = ("adagrad_momentum", "adam", "sgd")
FITNESS_SHAPINGS = ("raw", "centered_ranks")


class AdagradMomentumState(NamedTuple):
    count: jax.Array
    hist: Any


def scale_by_adagrad_momentum(alpha: float = 0.9, fudge: float = 1e-6) -> optax.GradientTransformation:
    """Liu & Wang's SVGD step rule as an optax transformation (no learning rate).

    ``hist = g^2`` on the first update, then ``alpha hist + (1 - alpha) g^2``;
    returns ``g / (fudge + sqrt(hist))``.
    """

    def init_fn(params):
        return AdagradMomentumState(jnp.zeros([], jnp.int32), jax.tree.map(jnp.zeros_like, params))

    def update_fn(updates, state, params=None):
        del params
        first = state.count == 0
        hist = jax.tree.map(
            lambda h, g: jnp.where(first, h + g * g, alpha * h + (1.0 - alpha) * g * g), state.hist, updates
        )
        out = jax.tree.map(lambda g, h: g / (fudge + jnp.sqrt(h)), updates, hist)
        return out, AdagradMomentumState(state.count + 1, hist)

    return optax.GradientTransformation(init_fn, update_fn)


def _direction_transform(name: str) -> optax.GradientTransformation:
    if name == "adagrad_momentum":
        return scale_by_adagrad_momentum()
    if name == "adam":
        return optax.scale_by_adam()  # optax.adam(lr) == chain(scale_by_adam(), scale(-lr))
    return optax.identity()  # sgd


@struct.dataclass
class SVGDParams:
    """Numeric hyperparameters (traced).

    learning_rate: optimiser step size.
    sigma: ES smoothing std (source "es").
    kernel_std: RBF bandwidth h when ``bandwidth == "fixed"``.
    bandwidth_scale: multiplies the median-heuristic bandwidth (1 = Liu & Wang).
    repulsion: scale c of the repulsive term (1 = plain SVGD).
    surrogate_std: std of the KDE surrogate (source "surrogate").
    """

    learning_rate: jax.Array
    sigma: jax.Array
    kernel_std: jax.Array
    bandwidth_scale: jax.Array
    repulsion: jax.Array
    surrogate_std: jax.Array


@struct.dataclass
class SVGDState:
    x: jax.Array  # [rho, d] particles
    opt_state: Any
    generation: jax.Array
    best_solution: jax.Array
    best_fitness: jax.Array
    particle_best_solution: jax.Array
    particle_best_fitness: jax.Array
    bandwidth: jax.Array
    params: SVGDParams


@dataclasses.dataclass(frozen=True)
class SVGD:
    """SVGD on flat vectors (see module docstring). Static sizes and choices only.

    Args:
      num_particles: n >= 2.
      pop_size: 1 for ``"autodiff"`` / ``"surrogate"``; an even number >= 2 for ``"es"``.
      dim: d >= 1.
      source: ``"autodiff"`` | ``"es"`` | ``"surrogate"``.
      objective: f to minimise on one point (``[dim] -> scalar``), differentiable; required for
        ``"autodiff"`` only.
      optimizer: ``"adagrad_momentum"`` | ``"adam"`` | ``"sgd"``.
      bandwidth: ``"median"`` | ``"fixed"`` (``params.kernel_std``).
      fitness_shaping: ``"raw"`` | ``"centered_ranks"`` (source ``"es"``).
      kernel_space: ``"parameters"`` | ``"actions"`` (``tell`` then needs ``embed_context``).
      num_probes: size of the embedding's context, read by whoever builds ``embed``.
      embed: ``(x[n, d], context) -> [n, k]`` for ``kernel_space="actions"``.
    """

    num_particles: int
    pop_size: int
    dim: int
    source: str = "es"
    objective: Callable | None = None
    optimizer: str = "adagrad_momentum"
    bandwidth: str = "median"
    fitness_shaping: str = "raw"
    kernel_space: str = "parameters"
    num_probes: int = 32
    embed: Any = None

    def __post_init__(self):
        kernels.check_kernel_space(self.kernel_space, self.num_probes)
        if self.kernel_space != "parameters" and self.source == "surrogate":
            raise ValueError("kernel_space='actions' is invalid for svgd source 'surrogate'; allowed: parameters")
        base.check_int("num_particles", self.num_particles, 2, " (the kernel needs at least 2 particles)")
        base.check_int("dim", self.dim, 1)
        if self.source not in SOURCES:
            raise ValueError(f"unknown svgd gradient source {self.source!r}; valid sources: {', '.join(SOURCES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown svgd optimizer {self.optimizer!r}; valid optimizers: {', '.join(OPTIMIZERS)}")
        if self.fitness_shaping not in FITNESS_SHAPINGS:
            raise ValueError(
                f"unknown fitness_shaping {self.fitness_shaping!r}; valid: {', '.join(FITNESS_SHAPINGS)}"
            )
        kernels.check_bandwidth_rule(self.bandwidth)
        if self.source == "es":
            base.check_int("pop_size", self.pop_size, 2)
            if self.pop_size % 2:
                raise ValueError(f"pop_size={self.pop_size!r} is invalid for svgd source 'es': must be even (antithetic pairs)")
        elif self.pop_size != 1:
            raise ValueError(
                f"pop_size={self.pop_size!r} is invalid for svgd source {self.source!r}: must be 1 "
                "(the particles themselves are evaluated)"
            )
        if self.source == "autodiff" and not callable(self.objective):
            raise ValueError("svgd source 'autodiff' needs objective=f (a differentiable f: [dim] -> scalar to minimise)")

    # ------------------------------------------------------------------ protocol
    @property
    def default_params(self) -> SVGDParams:
        # Weakly typed float32 scalars, like the Python floats users pass to ``replace``: the
        # two give the same abstract value, so swapping values never retraces.
        f32 = lambda v: jnp.asarray(float(v))  # noqa: E731
        return SVGDParams(
            learning_rate=f32(0.1),
            sigma=f32(1.0),
            kernel_std=f32(1.0),
            bandwidth_scale=f32(1.0),
            repulsion=f32(1.0),
            surrogate_std=f32(1.0),
        )

    def check_params(self, params: SVGDParams) -> None:
        base.check_params_positive(params, ("learning_rate", "sigma", "kernel_std", "bandwidth_scale", "surrogate_std"))
        base.check_params_nonnegative(params, ("repulsion",))

    def init(self, key: jax.Array, x0: jax.Array, params: SVGDParams | None = None) -> SVGDState:
        """``x0``: [num_particles, dim]. ``key`` is unused."""
        del key
        params = self.default_params if params is None else params
        self.check_params(params)
        x0 = base.prepare_x0(x0, self.num_particles, self.dim)
        return self._init(x0, params)

    @functools.partial(jax.jit, static_argnums=0)
    def _init(self, x0: jax.Array, params: SVGDParams) -> SVGDState:
        params = jax.tree.map(lambda v: jnp.asarray(v, dtype=jnp.float32), params)
        return SVGDState(
            x=x0,
            opt_state=_direction_transform(self.optimizer).init(x0),
            generation=jnp.asarray(0, jnp.int32),
            bandwidth=jnp.asarray(jnp.nan, jnp.float32),
            params=params,
            **base.init_best(self.num_particles, self.dim),
        )

    @functools.partial(jax.jit, static_argnums=0)
    def ask(self, key: jax.Array, state: SVGDState) -> tuple[jax.Array, SVGDState]:
        if self.source != "es":
            return state.x[:, None, :], state
        rho, m, d = self.num_particles, self.pop_size, self.dim
        keys = jax.random.split(key, rho)
        eps = jax.vmap(lambda k: jax.random.normal(k, (m // 2, d)))(keys)
        eps = jnp.concatenate([eps, -eps], axis=1)
        return state.x[:, None, :] + state.params.sigma * eps, state

    @functools.partial(jax.jit, static_argnums=0)
    def tell(self, offspring: jax.Array, fitness: jax.Array, state: SVGDState,
             embed_context: Any = None) -> SVGDState:
        """``embed_context``: the second argument of ``embed`` (``kernel_space="actions"`` only)."""
        rho, m, d = self.num_particles, self.pop_size, self.dim
        offspring, fitness = base.prepare_tell(offspring, fitness, rho, m, d)
        best = base.update_best(state, offspring, fitness)
        params, x = state.params, state.x

        if self.source == "autodiff":
            grad_logp = -jax.vmap(jax.grad(self.objective))(x)
        elif self.source == "es":
            grad_logp = -self._es_gradient(offspring, fitness, x, params.sigma)
        if self.kernel_space != "parameters":
            if self.embed is None or embed_context is None:
                raise ValueError("kernel_space='actions' needs an embed function and tell(..., embed_context=...)")
            phi, h = kernels.embedded_svgd_direction(
                x, grad_logp, lambda z: self.embed(z, embed_context), self.bandwidth, params.kernel_std,
                params.bandwidth_scale, params.repulsion, getattr(self.embed, "coordinate_scale", None))
        elif self.source != "surrogate":
            h = kernels.bandwidth(x, self.bandwidth, params.kernel_std, params.bandwidth_scale)
            phi = kernels.svgd_direction(x, grad_logp, h, params.repulsion)
        else:
            h = kernels.bandwidth(x, self.bandwidth, params.kernel_std, params.bandwidth_scale)
            phi = self._gf_svgd_direction(x, fitness[:, 0], h, params)

        tx = _direction_transform(self.optimizer)
        direction, opt_state = tx.update(-phi, state.opt_state, x)
        new_x = x - params.learning_rate * direction
        return state.replace(
            x=new_x,
            opt_state=opt_state,
            generation=state.generation + 1,
            bandwidth=h,
            **best,
        )

    def means(self, state: SVGDState) -> jax.Array:
        return state.x

    def sigmas(self, state: SVGDState) -> jax.Array:
        """ES smoothing std per particle for source "es"; 0 otherwise (no search distribution)."""
        s = state.params.sigma if self.source == "es" else jnp.asarray(0.0, jnp.float32)
        return jnp.broadcast_to(s, (self.num_particles,))

    # ------------------------------------------------------------------ internals
    def _es_gradient(self, offspring, fitness, x, sigma):
        """Estimate of grad f at each particle from antithetic offspring; [rho, d]."""
        m = self.pop_size
        eps = (offspring - x[:, None, :]) / sigma
        if self.fitness_shaping == "centered_ranks":
            f = base.ordinal_ranks(fitness).astype(jnp.float32) / (m - 1) - 0.5
        else:
            # Non-finite values (NaN -> +inf) become the worst finite value of their sub-population.
            finite = jnp.isfinite(fitness)
            worst = jnp.max(jnp.where(finite, fitness, -jnp.inf), axis=-1, keepdims=True)
            worst = jnp.where(jnp.isfinite(worst), worst, 0.0)
            f = jnp.where(finite, fitness, worst)
            f = f - jnp.mean(f, axis=-1, keepdims=True)  # baseline (exact no-op for antithetic pairs)
        return jnp.einsum("rm,rmd->rd", f, eps) / (m * sigma)

    def _gf_svgd_direction(self, x, f, h, params):
        """GF-SVGD field with a Gaussian-KDE surrogate of the particles (see module docstring)."""
        n, d = x.shape
        s2 = jnp.square(params.surrogate_std)
        sq = kernels.pairwise_sq_dists(x)  # [j, l]
        logits = -0.5 * sq / s2
        log_rho = jax.scipy.special.logsumexp(logits, axis=1) - math.log(n) - 0.5 * d * jnp.log(2 * jnp.pi * s2)
        resp = jax.nn.softmax(logits, axis=1)  # [j, l]
        grad_log_rho = (resp @ x - x) / s2  # sum_l resp_jl (x_l - x_j) / s^2
        finite = jnp.isfinite(f)
        worst = jnp.max(jnp.where(finite, f, -jnp.inf))
        f = jnp.where(finite, f, jnp.where(jnp.isfinite(worst), worst, 0.0))
        w = jax.nn.softmax(log_rho + f)  # w_j ∝ rho(x_j) / p(x_j) = rho(x_j) exp(f(x_j))
        K = kernels.kernel_matrix(x, h)  # K[j, i]
        drive = (K * w[:, None]).T @ grad_log_rho
        diff = x[None, :, :] - x[:, None, :]  # [j, i] = x_i - x_j
        rep = jnp.sum((K * w[:, None])[:, :, None] * diff, axis=0) / jnp.square(h)
        return drive + params.repulsion * rep
