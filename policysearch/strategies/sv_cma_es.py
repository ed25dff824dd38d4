"""Stein Variational CMA-ES (Braun, Lange & Toussaint), REFERENCE.md section 1.

rho particles, each with its own CMA-ES search distribution N(x_i, sigma_i^2 C_i) and paths.
One generation (``ask`` then ``tell``):

1. sample m offspring per particle, xi_il ~ N(x_i, sigma_i^2 C_i) (independent key per particle);
2. rank within each particle's own sub-population, Hansen's recombination weights w_il;
3. driving force: the particle's own CMA step sum_l w_il^+ (xi_il - x_i)  (not kernel-smoothed);
4. repulsion: gamma(t)/rho * sum_j grad_{x_j} k(x_j, x_i) over particle means;
5. x_i += driving + repulsion; the combined step / sigma_i feeds p_sigma and p_c (hence sigma_i);
   the rank-mu term uses the raw offspring steps.

Options beyond the paper: ``kernel_space="actions"`` computes the kernel on a generic embedding
``embed(means, context)`` of the particles (for policies: their actions at probe observations,
``kernels.ActionEmbedding``; the caller passes ``context`` to ``tell``), see
``kernels.embedded_repulsion``, with the median bandwidth floored at 1 % of the embedding's
coordinate scale (behaviourally identical particles give a small, finite push, not float noise
times 1/h^2); ``params.repulsion_clip`` caps each particle's repulsion step at
``repulsion_clip * sigma_i * sqrt(d / mu_eff)`` (the length of a CMA mean step under random
selection; ``inf``, the library default, never clips). docs/strategies.md gives the evidence.

The CMA-ES arithmetic (weights and learning rates, path, step-size and covariance updates,
eigendecomposition) is evosax 0.3.2's ``CMA_ES``, called per particle under ``vmap``; this
module only adds the repulsion, the bandwidth rule, the gamma(t) schedule and a lazy
(staggered) eigendecomposition. With ``eigen_interval=1``, ``bandwidth="fixed"`` and
``schedule="constant"`` the update equals evosax ``SV_CMA_ES`` (tested); without repulsion it
is rho independent evosax ``CMA_ES`` runs (tested). ``CMAES`` (cma_es.py) and ``MPCMAES`` are
this same class with the repulsion switched off.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from evosax.algorithms.distribution_based.cma_es import CMA_ES as _EvosaxCMAES
from evosax.algorithms.distribution_based.cma_es import eigen_decomposition
from flax import struct

from policysearch import kernels
from policysearch.strategies import base

__all__ = ["SVCMAESParams", "SVCMAESState", "SVCMAES", "MPCMAES", "DEFAULT_SCHEDULE",
           "DEFAULT_BANDWIDTH", "DEFAULT_ALPHA", "DEFAULT_BANDWIDTH_SCALE"]

# Defaults chosen with experiments/gmm_coverage.py; see docs/strategies.md ("Strategies").
DEFAULT_SCHEDULE = "linear"
DEFAULT_BANDWIDTH = "median"
SAMPLINGS = ("symmetric", "eigen")
DEFAULT_ALPHA = 16.0
DEFAULT_BANDWIDTH_SCALE = 0.7
# Library default: no cap (evosax parity); the main job uses 1 (policysearch/config.py).
DEFAULT_REPULSION_CLIP = math.inf
# evosax's std_min is 0: on a converged problem sigma underflows to 0 after a few hundred
# generations (seen at ~380 on the 2-D mixture) and the state turns NaN (0/0 in the steps).
DEFAULT_SIGMA_MIN = 1e-30
# From this dimension on, the per-particle covariance updates run one particle at a time.
_SEQUENTIAL_DIM = 512


@struct.dataclass
class SVCMAESParams:
    """Numeric hyperparameters (traced: changing them does not recompile).

    sigma_init: initial step size of every particle.
    alpha: repulsion scale; gamma(t) = alpha * schedule(t / num_generations).
    kernel_std: RBF bandwidth h used when the strategy's ``bandwidth == "fixed"``.
    bandwidth_scale: multiplies the median-heuristic bandwidth (``bandwidth == "median"``);
      1 is Liu & Wang's heuristic, the default 0.7 was chosen on the 4-mode mixture.
    num_generations: horizon T of the gamma schedule (set it to the run length).
    repulsion_clip: cap of a particle's repulsion step in units of ``sigma_i sqrt(d / mu_eff)``
      (``inf``: no cap).
    cma: evosax ``CMA_ES`` parameters (recombination weights, learning rates, damping, std_min/max;
      std_min defaults to 1e-30 here instead of evosax's 0, see ``DEFAULT_SIGMA_MIN``).
    """

    sigma_init: jax.Array
    alpha: jax.Array
    kernel_std: jax.Array
    bandwidth_scale: jax.Array
    num_generations: jax.Array
    cma: Any
    repulsion_clip: jax.Array = math.inf


@struct.dataclass
class SVCMAESState:
    mean: jax.Array  # [rho, d]
    sigma: jax.Array  # [rho]
    p_sigma: jax.Array  # [rho, d]
    p_c: jax.Array  # [rho, d]
    C: jax.Array  # [rho, d, d]
    B: jax.Array  # [rho, d, d]
    D: jax.Array  # [rho, d]
    generation: jax.Array  # int32 scalar, counts tells
    best_solution: jax.Array  # [d]
    best_fitness: jax.Array  # scalar
    particle_best_solution: jax.Array  # [rho, d]
    particle_best_fitness: jax.Array  # [rho]
    bandwidth: jax.Array  # h used by the last tell (nan before / without repulsion)
    gamma: jax.Array  # gamma(t) used by the last tell
    repulsion_ratio: jax.Array  # last tell: median_i |repulsion_i| / (sigma_i sqrt(d / mu_eff)), before the cap
    params: SVCMAESParams


def _resolve_eigen_interval(value: Any, dim: int, c_1: float, c_mu: float) -> int:
    if value == "auto":
        # pycma / purecma lazy gap: 0.5 * N * lambda / (c1 + cmu) / N^2 evaluations
        # = 0.5 / (N (c1 + cmu)) generations.
        return max(1, int(math.floor(0.5 / (dim * (c_1 + c_mu)))))
    return base.check_int("eigen_interval", value, 1, " or 'auto'")


@dataclasses.dataclass(frozen=True)
class SVCMAES:
    """SV-CMA-ES on flat vectors. Static: sizes and choices; numeric: ``params`` in the state.

    Args:
      num_particles: rho >= 2 (>= 1 when ``repulsion=False``).
      pop_size: offspring per particle m >= 2.
      dim: search-space dimension d >= 1.
      schedule: gamma(t) schedule, one of ``kernels.SCHEDULES``.
      bandwidth: ``"median"`` (heuristic over particle means, every generation) or ``"fixed"``
        (``params.kernel_std``).
      eigen_interval: recompute a particle's eigendecomposition every k generations (int >= 1)
        or ``"auto"`` (pycma's lazy gap ``floor(0.5 / (d (c1 + cmu)))``, at least 1). Particles
        are staggered (particle i refreshes when generation % k == i % k), so the saving holds
        under vmap over seeds too. k = 1 reproduces evosax exactly.
      kernel_space: ``"parameters"`` (the kernel on the means, the paper's) or ``"actions"``
        (the kernel on ``embed(means, context)``; ``tell`` then needs ``embed_context``).
      num_probes: size of the embedding's context (probe observations), read by the caller
        that builds ``embed`` and its context; unused by the strategy itself.
      embed: ``(x[n, d], context) -> [n, k]`` for ``kernel_space="actions"`` (the RL runner
        sets ``kernels.ActionEmbedding(policy)`` when it is None).
      repulsion: False gives rho independent CMA-ES runs (gamma = 0), used by MPCMAES / CMAES.
      sampling: ``"symmetric"`` (default): y = B D B^T z, the symmetric square root C^{1/2} z,
        which is unique for a given C, so float noise in C (different batch layouts, devices)
        stays float noise in the offspring; ``"eigen"``: y = B D z as evosax does, which
        depends on the arbitrary eigenvector basis eigh returns (degenerate eigenvalues are
        common in CMA-ES) and so can turn 1e-7 differences into different offspring. Same
        distribution N(0, C) either way; ``"eigen"`` reproduces evosax's offspring exactly.
      low_memory: eigendecompose and update the particles' covariances one at a time, in place
        (d x d temporaries once instead of rho times); ``"auto"``: when dim >= 512 on CPU (on GPU,
        XLA's buffer assignment made it use more memory, measured). Same arithmetic either way.
    """

    num_particles: int
    pop_size: int
    dim: int
    schedule: str = DEFAULT_SCHEDULE
    bandwidth: str = DEFAULT_BANDWIDTH
    eigen_interval: int | str = "auto"
    repulsion: bool = True
    low_memory: bool | str = "auto"
    sampling: str = "symmetric"
    kernel_space: str = "parameters"
    num_probes: int = 32
    embed: Any = None

    def __post_init__(self):
        kernels.check_kernel_space(self.kernel_space, self.num_probes)
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"sampling={self.sampling!r} is invalid; allowed: {', '.join(SAMPLINGS)}")
        min_particles = 2 if self.repulsion else 1
        what = " (the kernel needs at least 2 particles)" if self.repulsion else ""
        base.check_int("num_particles", self.num_particles, min_particles, what)
        base.check_int("pop_size", self.pop_size, 2)
        base.check_int("dim", self.dim, 1)
        kernels.check_schedule(self.schedule)
        kernels.check_bandwidth_rule(self.bandwidth)
        if not (self.eigen_interval == "auto" or isinstance(self.eigen_interval, int)):
            raise ValueError(
                f"eigen_interval={self.eigen_interval!r} is invalid: must be an integer >= 1 or 'auto'"
            )
        evo = _EvosaxCMAES(population_size=self.pop_size, solution=jnp.zeros((self.dim,), jnp.float32))
        cma = jax.tree.map(lambda v: jnp.asarray(v, dtype=jnp.float32), evo.default_params)
        cma = cma.replace(std_min=jnp.asarray(DEFAULT_SIGMA_MIN, jnp.float32))
        if self.low_memory not in ("auto", True, False):
            raise ValueError(f"low_memory={self.low_memory!r} is invalid: must be True, False or 'auto'")
        object.__setattr__(self, "_evo", evo)
        object.__setattr__(self, "_cma_default", cma)
        object.__setattr__(
            self,
            "_interval",
            _resolve_eigen_interval(self.eigen_interval, self.dim, float(cma.c_1), float(cma.c_mu)),
        )

    # ------------------------------------------------------------------ protocol
    @property
    def default_params(self) -> SVCMAESParams:
        # Weakly typed float32 scalars, like the Python floats users pass to ``replace``: the
        # two give the same abstract value, so swapping values never retraces.
        f32 = lambda v: jnp.asarray(float(v))  # noqa: E731
        return SVCMAESParams(
            sigma_init=f32(1.0),
            alpha=f32(DEFAULT_ALPHA if self.repulsion else 0.0),
            kernel_std=f32(1.0),
            bandwidth_scale=f32(DEFAULT_BANDWIDTH_SCALE),
            num_generations=f32(100.0),
            cma=self._cma_default,
            repulsion_clip=f32(DEFAULT_REPULSION_CLIP),
        )

    @property
    def eigen_interval_resolved(self) -> int:
        return self._interval

    def check_params(self, params: SVCMAESParams) -> None:
        base.check_params_positive(params, ("sigma_init", "kernel_std", "bandwidth_scale", "num_generations"))
        base.check_params_nonnegative(params, ("alpha",))
        clip = base._concrete(params.repulsion_clip)
        if clip is not None and (np.any(np.isnan(clip)) or np.any(clip <= 0)):
            raise ValueError(f"repulsion_clip={clip.tolist()!r} is invalid: must be a number > 0 (inf: no cap)")

    def init(self, key: jax.Array, x0: jax.Array, params: SVCMAESParams | None = None) -> SVCMAESState:
        """``x0``: [num_particles, dim] (or [dim] when num_particles == 1). ``key`` is unused."""
        del key
        params = self.default_params if params is None else params
        self.check_params(params)
        x0 = base.prepare_x0(x0, self.num_particles, self.dim)
        return self._init(x0, params)

    @functools.partial(jax.jit, static_argnums=0)
    def _init(self, x0: jax.Array, params: SVCMAESParams) -> SVCMAESState:
        rho, d = self.num_particles, self.dim
        params = jax.tree.map(lambda v: jnp.asarray(v, dtype=jnp.float32), params)
        eye = jnp.eye(d, dtype=jnp.float32)
        return SVCMAESState(
            mean=x0,
            sigma=jnp.broadcast_to(params.sigma_init, (rho,)).astype(jnp.float32),
            p_sigma=jnp.zeros((rho, d), jnp.float32),
            p_c=jnp.zeros((rho, d), jnp.float32),
            C=jnp.broadcast_to(eye, (rho, d, d)),
            B=jnp.broadcast_to(eye, (rho, d, d)),
            D=jnp.ones((rho, d), jnp.float32),
            generation=jnp.asarray(0, jnp.int32),
            bandwidth=jnp.asarray(jnp.nan, jnp.float32),
            gamma=jnp.asarray(0.0, jnp.float32),
            repulsion_ratio=jnp.asarray(0.0, jnp.float32),
            params=params,
            **base.init_best(rho, d),
        )

    @functools.partial(jax.jit, static_argnums=0)
    def ask(self, key: jax.Array, state: SVCMAESState) -> tuple[jax.Array, SVCMAESState]:
        """Offspring [num_particles, pop_size, dim]; refreshes (some) eigendecompositions first."""
        state = self._refresh_eigen(state)
        rho, m, d = self.num_particles, self.pop_size, self.dim
        if rho == 1:
            z = jax.random.normal(key, (1, m, d))  # as evosax CMA_ES (no split)
        else:
            keys = jax.random.split(key, rho)  # as evosax SV_ES
            z = jax.vmap(lambda k: jax.random.normal(k, (m, d)))(keys)
        if self.sampling == "symmetric":  # z B: rotate into the eigenbasis first (still N(0, I))
            z = jnp.einsum("rmj,rjk->rmk", z, state.B)
        y = jnp.einsum("rmk,rjk->rmj", z * state.D[:, None, :], state.B)  # (z diag(D)) B^T
        offspring = state.mean[:, None, :] + state.sigma[:, None, None] * y
        return offspring, state

    @functools.partial(jax.jit, static_argnums=0)
    def tell(self, offspring: jax.Array, fitness: jax.Array, state: SVCMAESState,
             embed_context: Any = None) -> SVCMAESState:
        """Update from ``fitness[num_particles, pop_size]`` of ``offspring`` (minimised; NaN = worst).

        ``embed_context``: the second argument of ``embed`` (``kernel_space="actions"`` only).
        """
        rho, m, d = self.num_particles, self.pop_size, self.dim
        offspring, fitness = base.prepare_tell(offspring, fitness, rho, m, d)
        best = base.update_best(state, offspring, fitness)

        evo, params = self._evo, state.params
        cma = params.cma
        # Recombination weights by rank within each particle's own sub-population.
        w = cma.weights[base.ordinal_ranks(fitness)]  # [rho, m]
        all_failed = jnp.all(jnp.isposinf(fitness), axis=-1, keepdims=True)
        w = jnp.where(all_failed, 0.0, w)

        mean, sigma = state.mean, state.sigma
        y_k = (offspring - mean[:, None, :]) / sigma[:, None, None]  # raw steps ~ N(0, C)
        y_w = jnp.einsum("rm,rmd->rd", jnp.where(w < 0.0, 0.0, w), y_k)  # driving force / sigma

        if self.repulsion:
            T = params.num_generations
            t = state.generation.astype(jnp.float32) / T
            gamma = params.alpha * kernels.gamma_schedule(self.schedule, t, T)
            if self.kernel_space == "parameters":
                h = kernels.bandwidth(mean, self.bandwidth, params.kernel_std, params.bandwidth_scale)
                rep = (gamma / rho) * kernels.repulsion(mean, h)  # [rho, d], in x units
            else:
                embed = self._embed_fn(embed_context)
                rep, h = kernels.embedded_repulsion(mean, embed, self.bandwidth, params.kernel_std,
                                                    params.bandwidth_scale, self._coordinate_scale)
                rep = (gamma / rho) * rep
            w_pos = jnp.where(cma.weights > 0.0, cma.weights, 0.0)
            mu_eff = jnp.sum(w_pos) ** 2 / jnp.sum(jnp.square(w_pos))
            neutral = sigma * jnp.sqrt(d / mu_eff)  # a CMA mean step under random selection
            ratio = jnp.median(jnp.sqrt(jnp.sum(jnp.square(rep), axis=-1)) / neutral)
            rep = kernels.clip_repulsion(rep, params.repulsion_clip * neutral)
            y_w = y_w + rep / sigma[:, None]
        else:
            h = jnp.asarray(jnp.nan, jnp.float32)
            gamma = jnp.asarray(0.0, jnp.float32)
            ratio = jnp.asarray(0.0, jnp.float32)

        new_mean = mean + cma.c_mean * sigma[:, None] * y_w

        # Paths, step size and covariance: evosax CMA_ES, per particle, fed the combined step.
        def particle_update(args):
            p_sigma, sigma, p_c, C, B, D, y_w, y_k, w = args
            p_sigma = evo.update_p_std(p_sigma, B @ ((B.T @ y_w) / D), cma)
            norm_p_sigma = jnp.linalg.norm(p_sigma)
            sigma = evo.update_std(sigma, norm_p_sigma, cma)
            h_sigma = evo.h_std(norm_p_sigma, state.generation + 1, cma)
            p_c = evo.update_p_c(p_c, h_sigma, y_w, cma)
            rank_mu = evo.rank_mu(w, y_k, ((y_k @ B) * (1.0 / D)) @ B.T)  # raw offspring steps
            C = evo.update_C(C, evo.delta_h_std(h_sigma, cma), evo.rank_one(p_c), rank_mu, cma)
            return p_sigma, sigma, p_c, C

        args = (state.p_sigma, sigma, state.p_c, state.C, state.B, state.D, y_w, y_k, w)
        if self._use_low_memory() and rho > 1:
            # One particle at a time, updating the stacked arrays in place: the d x d
            # temporaries exist once, not rho times (memory at large d).
            def body(i, carry):
                rest = (state.B, state.D, y_w, y_k, w)
                out = particle_update(tuple(a[i] for a in carry + rest))
                return tuple(c.at[i].set(o) for c, o in zip(carry, out))

            init = (state.p_sigma, sigma, state.p_c, state.C)
            p_sigma, new_sigma, p_c, C = jax.lax.fori_loop(0, rho, body, init)
        else:
            p_sigma, new_sigma, p_c, C = jax.vmap(particle_update)(args)

        return state.replace(
            mean=new_mean,
            sigma=new_sigma,
            p_sigma=p_sigma,
            p_c=p_c,
            C=C,
            generation=state.generation + 1,
            bandwidth=jnp.asarray(h, jnp.float32),
            gamma=jnp.asarray(gamma, jnp.float32),
            repulsion_ratio=jnp.asarray(ratio, jnp.float32),
            **best,
        )

    def means(self, state: SVCMAESState) -> jax.Array:
        return state.mean

    def sigmas(self, state: SVCMAESState) -> jax.Array:
        """Per-particle step size [num_particles]."""
        return state.sigma

    # ------------------------------------------------------------------ internals
    def _embed_fn(self, embed_context):
        if self.embed is None or embed_context is None:
            raise ValueError("kernel_space='actions' needs an embed function and tell(..., embed_context=...); "
                             "the RL runner provides both (density and optimisation use kernel_space=parameters)")
        return lambda x: self.embed(x, embed_context)

    @property
    def _coordinate_scale(self):
        """The embedding's coordinate scale (bandwidth floor, ``kernels.embedding_bandwidth_floor``)."""
        return getattr(self.embed, "coordinate_scale", None)

    def _use_low_memory(self) -> bool:
        """Trace-time choice: one particle at a time, in place (see ``low_memory``)."""
        if self.low_memory == "auto":  # measured: saves memory on CPU, costs memory on GPU
            return self.dim >= _SEQUENTIAL_DIM and jax.default_backend() == "cpu"
        return bool(self.low_memory)

    def _refresh_eigen(self, state: SVCMAESState) -> SVCMAESState:
        """evosax ``eigen_decomposition`` (symmetrise, clip, load, eigh) of the due particles.

        k = 1: every particle. k > 1: particles with ``i % k == generation % k`` (staggered, so
        the per-generation cost is the same under vmap over seeds). Batched (vmap) by default;
        with ``low_memory`` one matrix at a time, updating the stacked C, B, D in place.
        """
        k, rho = self._interval, self.num_particles
        if k == 1:
            idx, valid = jnp.arange(rho, dtype=jnp.int32), None
        else:
            n_r = -(-rho // k)  # particles refreshed per generation
            idx = state.generation % k + k * jnp.arange(n_r, dtype=jnp.int32)
            valid = None if rho % k == 0 else idx < rho
        C, B, D = state.C, state.B, state.D

        if self._use_low_memory():

            def update(carry, i):
                out = eigen_decomposition(carry[0][i])
                return tuple(a.at[i].set(o) for a, o in zip(carry, out))

            def body(j, carry):
                if valid is None:
                    return update(carry, idx[j])
                return jax.lax.cond(valid[j], update, lambda c, i: c, carry, jnp.minimum(idx[j], rho - 1))

            C, B, D = jax.lax.fori_loop(0, idx.shape[0], body, (C, B, D))
        elif k == 1:
            C, B, D = jax.vmap(eigen_decomposition)(C)
        elif valid is None:
            out = jax.vmap(eigen_decomposition)(C[idx])
            C, B, D = (a.at[idx].set(o) for a, o in zip((C, B, D), out))
        else:
            skip = lambda c: (c, c, jnp.ones(c.shape[:-1], c.dtype))  # noqa: E731 (outputs are dropped)
            sel = C[jnp.minimum(idx, rho - 1)]
            out = jax.lax.cond(jnp.any(valid), jax.vmap(eigen_decomposition), jax.vmap(skip), sel)
            tgt = jnp.where(valid, idx, rho)  # out of range -> dropped
            C, B, D = (a.at[tgt].set(o, mode="drop") for a, o in zip((C, B, D), out))
        return state.replace(C=C, B=B, D=D)


def MPCMAES(
    num_particles: int, pop_size: int, dim: int, eigen_interval: int | str = "auto", low_memory: bool | str = "auto",
    sampling: str = "symmetric",
) -> SVCMAES:
    """Kernel-free multi-population CMA-ES: SV-CMA-ES with gamma = 0 (rho independent CMA-ES runs)."""
    return SVCMAES(
        num_particles=num_particles,
        pop_size=pop_size,
        dim=dim,
        eigen_interval=eigen_interval,
        sampling=sampling,
        repulsion=False,
        low_memory=low_memory,
    )
