"""Reference samplers from the lecture (seed 002): inverse CDF, rejection, importance sampling,
Metropolis-Hastings, HMC, NUTS, Langevin (ULA / MALA), plus tempered SMC for ground truth.

The MCMC transition kernels are blackjax's (``rmh``, ``hmc``, ``nuts``, ``mala``, ``sgld`` with
the full gradient = ULA, ``adaptive_tempered_smc``); this module only wires them into
``lax.scan`` loops vmapped over chains. Inverse CDF, rejection and importance sampling are
small and written here.

All functions take a log-density ``logdensity_fn(x [d]) -> scalar`` (unnormalised is fine
unless stated) and a PRNG key; outputs are jnp arrays.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import blackjax
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from .metrics import ess_from_log_weights

__all__ = [
    "inverse_cdf_sample",
    "grid_inverse_cdf",
    "rejection_sample",
    "RejectionResult",
    "importance_sample",
    "ImportanceResult",
    "snis_expectation",
    "run_mcmc",
    "MCMCResult",
    "MCMC_KERNELS",
    "tempered_smc",
    "make_tempered_smc",
    "SMCResult",
]


# =========================================================================================
# 1-D inverse CDF
# =========================================================================================
def inverse_cdf_sample(key, icdf: Callable, n: int) -> jax.Array:
    """Samples icdf(U), U ~ U(0, 1), shape [n]."""
    u = jax.random.uniform(key, (n,), minval=1e-7, maxval=1.0 - 1e-7)
    return icdf(u)


def grid_inverse_cdf(logdensity_1d: Callable, lo: float, hi: float, num_grid: int = 4097):
    """Numerical inverse CDF of an unnormalised 1-D density on [lo, hi]: the CDF of the
    trapezoidal interpolant of p on a uniform grid, inverted by linear interpolation.
    Returns ``icdf(u)`` (vectorised)."""
    g = jnp.linspace(lo, hi, num_grid)
    lp = jax.vmap(logdensity_1d)(g)
    p = jnp.exp(lp - jnp.max(lp))
    cdf = jnp.concatenate([jnp.zeros(1), jnp.cumsum(0.5 * (p[1:] + p[:-1]))])
    cdf = cdf / cdf[-1]

    def icdf(u):
        return jnp.interp(u, cdf, g)

    return icdf


# =========================================================================================
# rejection sampling
# =========================================================================================
class RejectionResult(NamedTuple):
    samples: jax.Array          # [n, d]
    num_proposals: jax.Array    # total proposals drawn
    acceptance_rate: jax.Array  # n / num_proposals
    exhausted: jax.Array        # samples that hit max_tries (still returned: last proposal)


def rejection_sample(key, log_p_tilde: Callable, proposal_sample: Callable,
                     proposal_log_prob: Callable, log_k: float, n: int,
                     max_tries: int = 100000) -> RejectionResult:
    """Rejection sampling: z ~ q, accept when u * k q(z) <= p~(z), u ~ U(0, 1).

    Requires k q(z) >= p~(z) everywhere (not checked). ``proposal_sample(key) -> z [d]``;
    ``proposal_log_prob(z) -> log q(z)`` (normalised). One vmapped ``while_loop`` per sample;
    a sample still rejected after ``max_tries`` proposals is returned as its last proposal and
    counted in ``exhausted``. The expected acceptance rate is Z_p / k (Z_p = integral of p~)."""

    def one(k):
        def cond(c):
            return (~c[2]) & (c[3] < max_tries)

        def body(c):
            kk, _, _, t = c
            kk, kz, ku = jax.random.split(kk, 3)
            z = proposal_sample(kz)
            log_u = jnp.log(jax.random.uniform(ku))
            acc = log_u + log_k + proposal_log_prob(z) <= log_p_tilde(z)
            return kk, z, acc, t + 1

        z0 = jax.eval_shape(proposal_sample, k)
        init = (k, jnp.zeros(z0.shape, z0.dtype), jnp.array(False), jnp.int32(0))
        _, z, acc, tries = jax.lax.while_loop(cond, body, init)
        return z, tries, ~acc

    z, tries, exhausted = jax.vmap(one)(jax.random.split(key, n))
    total = jnp.sum(tries)
    return RejectionResult(z, total, n / total, jnp.sum(exhausted))


# =========================================================================================
# importance sampling
# =========================================================================================
class ImportanceResult(NamedTuple):
    samples: jax.Array      # [n, d] draws from q
    log_weights: jax.Array  # unnormalised log r_l = log p~(z_l) - log q~(z_l)
    weights: jax.Array      # self-normalised w_l
    ess: jax.Array          # (sum r)^2 / sum r^2
    log_z: jax.Array        # log of (1/n) sum r_l  (= log Z_p/Z_q)


def importance_sample(key, log_p_tilde: Callable, proposal_sample: Callable,
                      proposal_log_prob: Callable, n: int) -> ImportanceResult:
    """Self-normalised importance sampling with proposal q (``proposal_sample(key, n)`` ->
    [n, d]). ``log_z`` estimates log(Z_p / Z_q): log Z_p when q is normalised."""
    z = proposal_sample(key, n)
    log_r = jax.vmap(log_p_tilde)(z) - jax.vmap(proposal_log_prob)(z)
    w = jnp.exp(log_r - logsumexp(log_r))
    return ImportanceResult(z, log_r, w, ess_from_log_weights(log_r),
                            logsumexp(log_r) - jnp.log(n))


def snis_expectation(f: Callable, result: ImportanceResult) -> jax.Array:
    """sum_l w_l f(z_l) (self-normalised estimate of E_p f)."""
    fz = jax.vmap(f)(result.samples)
    return jnp.tensordot(result.weights, fz, axes=1)


# =========================================================================================
# MCMC via blackjax
# =========================================================================================
class MCMCResult(NamedTuple):
    samples: jax.Array          # [num_chains, num_samples, d]
    acceptance_rate: jax.Array  # [num_chains] (1.0 for ULA)
    step_size: jax.Array        # [num_chains] (adapted or given)
    num_grad_evals: jax.Array   # [num_chains] gradient / density evaluations, sampling phase


MCMC_KERNELS = ("rmh", "hmc", "nuts", "mala", "ula")


def _build(kernel: str, logdensity_fn, step_size, inverse_mass_matrix, num_integration_steps):
    if kernel == "rmh":
        return blackjax.additive_step_random_walk.normal_random_walk(
            logdensity_fn, step_size * jnp.ones_like(inverse_mass_matrix))
    if kernel == "hmc":
        return blackjax.hmc(logdensity_fn, step_size, inverse_mass_matrix, num_integration_steps)
    if kernel == "nuts":
        return blackjax.nuts(logdensity_fn, step_size, inverse_mass_matrix)
    if kernel == "mala":
        return blackjax.mala(logdensity_fn, step_size)
    raise ValueError(f"unknown MCMC kernel {kernel!r}; valid: {', '.join(MCMC_KERNELS)}")


def run_mcmc(key, logdensity_fn: Callable, init_positions, kernel: str = "nuts",
             num_samples: int = 1000, num_warmup: int = 500, step_size: float | None = None,
             num_integration_steps: int = 10, thin: int = 1, adapt: bool | None = None
             ) -> MCMCResult:
    """Run ``num_chains = len(init_positions)`` chains of a blackjax kernel, vmapped.

    * ``rmh``: Gaussian random-walk Metropolis(-Hastings), proposal std ``step_size``.
    * ``hmc`` / ``nuts``: blackjax window adaptation (step size + diagonal mass matrix) over
      ``num_warmup`` steps when ``adapt`` (default: when ``step_size`` is None).
    * ``mala``: Metropolis-adjusted Langevin, step ``step_size`` (x' = x + h grad + sqrt(2h) xi).
    * ``ula``: unadjusted Langevin with the same step, via ``blackjax.sgld`` with the exact
      gradient (biased by O(h)).

    Without adaptation the first ``num_warmup`` steps are discarded as burn-in.
    Returns samples [num_chains, num_samples, d] (every ``thin``-th state)."""
    if kernel not in MCMC_KERNELS:
        raise ValueError(f"unknown MCMC kernel {kernel!r}; valid: {', '.join(MCMC_KERNELS)}")
    init_positions = jnp.atleast_2d(jnp.asarray(init_positions, jnp.float32))
    num_chains, d = init_positions.shape
    if adapt is None:
        adapt = step_size is None and kernel in ("hmc", "nuts")
    if step_size is None and not adapt:
        raise ValueError(f"kernel {kernel!r} needs step_size (adaptation only for hmc/nuts)")
    if kernel == "ula":
        return _run_ula(key, logdensity_fn, init_positions, num_samples, num_warmup,
                        step_size, thin)

    def one_chain(k, x0):
        k_adapt, k_run = jax.random.split(k)
        if adapt:
            algo = blackjax.nuts if kernel == "nuts" else blackjax.hmc
            extra = {} if kernel == "nuts" else {"num_integration_steps": num_integration_steps}
            wa = blackjax.window_adaptation(algo, logdensity_fn, **extra)
            (state, params), _ = wa.run(k_adapt, x0, num_steps=num_warmup)
            eps, imm = params["step_size"], params["inverse_mass_matrix"]
            sampler = _build(kernel, logdensity_fn, eps, imm, num_integration_steps)
            burn = 0
        else:
            eps, imm = jnp.float32(step_size), jnp.ones(d)
            sampler = _build(kernel, logdensity_fn, eps, imm, num_integration_steps)
            state = sampler.init(x0)
            burn = num_warmup

        def step(st, kk):
            st, info = sampler.step(kk, st)
            acc = getattr(info, "acceptance_rate", None)
            if acc is None:
                acc = jnp.float32(info.is_accepted)
            ngrad = getattr(info, "num_integration_steps", None)
            if ngrad is None:
                ngrad = num_integration_steps if kernel == "hmc" else 1
            return st, (st.position, acc, ngrad)

        total = burn + num_samples * thin
        _, (pos, acc, ngrad) = jax.lax.scan(step, state, jax.random.split(k_run, total))
        pos = pos[burn:][thin - 1::thin]
        return pos, jnp.mean(acc[burn:]), jnp.float32(eps), jnp.sum(ngrad[burn:])

    keys = jax.random.split(key, num_chains)
    pos, acc, eps, ngrad = jax.jit(jax.vmap(one_chain))(keys, init_positions)
    return MCMCResult(pos, acc, eps, ngrad)


def _run_ula(key, logdensity_fn, init_positions, num_samples, num_warmup, step_size, thin):
    grad = jax.grad(logdensity_fn)
    ula = blackjax.sgld(lambda x, _batch: grad(x))
    total = num_warmup + num_samples * thin

    def one_chain(k, x0):
        def step(x, kk):
            x = ula.step(kk, x, None, step_size)
            return x, x

        _, pos = jax.lax.scan(step, x0, jax.random.split(k, total))
        return pos[num_warmup:][thin - 1::thin]

    keys = jax.random.split(key, init_positions.shape[0])
    pos = jax.jit(jax.vmap(one_chain))(keys, init_positions)
    n = init_positions.shape[0]
    return MCMCResult(pos, jnp.ones(n), jnp.full(n, step_size, jnp.float32),
                      jnp.full(n, total - num_warmup, jnp.float32))


# =========================================================================================
# tempered SMC via blackjax
# =========================================================================================
class SMCResult(NamedTuple):
    samples: jax.Array        # [n, d] (equally weighted after the final resampling)
    weights: jax.Array        # final normalised weights [n]
    num_steps: jax.Array      # number of tempering steps
    log_evidence: jax.Array   # log Z_target / Z_prior estimate (sum of log mean weights)
    acceptance_rate: jax.Array  # mean acceptance of the mutation kernel, last step


def tempered_smc(key, logprior_fn: Callable, loglikelihood_fn: Callable, prior_samples,
                 **kwargs) -> SMCResult:
    """Adaptive tempered SMC from p0 to p0 * L; see :func:`make_tempered_smc` for the options.
    ``prior_samples`` [n, d] must be exact draws from p0."""
    x0 = jnp.asarray(prior_samples, jnp.float32)
    run = make_tempered_smc(logprior_fn, loglikelihood_fn, x0.shape[1], **kwargs)
    return jax.jit(run)(key, x0)


def make_tempered_smc(logprior_fn: Callable, loglikelihood_fn: Callable, dim: int,
                      target_ess: float = 0.5, num_mcmc_steps: int = 20,
                      mutation: str = "rmh", step_scale: float = 1.0,
                      num_integration_steps: int = 8, max_steps: int = 500,
                      num_final_moves: int | None = None) -> Callable:
    """Adaptive tempered SMC (blackjax ``adaptive_tempered_smc``) from a prior p0 to p0 * L.

    The next temperature is chosen so the ESS of the incremental weights is ``target_ess`` * n;
    blackjax then resamples (systematic) and moves each particle by ``num_mcmc_steps`` steps of
    a p0 L^beta-invariant kernel:

    * ``rmh``: Gaussian random walk with per-dimension std ``step_scale * 2.38 / sqrt(d)`` x the
      particles' current std (re-tuned at every tempering step);
    * ``hmc``: ``num_integration_steps`` leapfrog steps of size ``step_scale / d^(1/4)`` with the
      inverse mass matrix = the particles' current variance.

    At beta = 1 the particles are resampled once more and moved ``num_final_moves`` (default
    ``num_mcmc_steps``) further steps on the target, so the returned set is equally weighted
    without duplicates.

    Returns a pure function ``run(key, x0 [n, d]) -> SMCResult`` (jit / vmap it), ``x0`` exact
    draws from p0."""
    d = dim
    if num_final_moves is None:
        num_final_moves = num_mcmc_steps
    if mutation == "rmh":
        init_fn = blackjax.additive_step_random_walk.init
        base_kernel = blackjax.additive_step_random_walk.build_kernel()

        def mcmc_step(rng, state, logdensity_fn, scale):
            return base_kernel(rng, state, logdensity_fn,
                               lambda k, pos: scale * jax.random.normal(k, pos.shape))

        def scale_of(p):
            return step_scale * 2.38 / jnp.sqrt(d) * (jnp.std(p, axis=0) + 1e-6)

    elif mutation == "hmc":
        init_fn = blackjax.hmc.init
        base_kernel = blackjax.hmc.build_kernel()

        def mcmc_step(rng, state, logdensity_fn, scale):
            return base_kernel(rng, state, logdensity_fn, step_size=step_scale / d**0.25,
                               inverse_mass_matrix=scale**2,
                               num_integration_steps=num_integration_steps)

        def scale_of(p):
            return jnp.std(p, axis=0) + 1e-6
    else:
        raise ValueError(f"mutation must be 'rmh' or 'hmc', got {mutation!r}")

    def smc_for(scale):
        return blackjax.adaptive_tempered_smc(
            logprior_fn, loglikelihood_fn, mcmc_step, init_fn,
            mcmc_parameters={"scale": scale[None]},
            resampling_fn=blackjax.smc.resampling.systematic,
            target_ess=target_ess, num_mcmc_steps=num_mcmc_steps)

    def run(state, k):
        def cond(c):
            st, _, i, _, _ = c
            return (st.tempering_param < 1.0) & (i < max_steps)

        def body(c):
            st, kk, i, logz, _ = c
            kk, ks = jax.random.split(kk)
            st, info = smc_for(scale_of(st.particles)).step(ks, st)
            ui = info.update_info
            acc = jnp.mean(getattr(ui, "acceptance_rate", jnp.float32(jnp.nan)))
            return st, kk, i + 1, logz + info.log_likelihood_increment, acc

        st, k, steps, logz, acc = jax.lax.while_loop(
            cond, body, (state, k, jnp.int32(0), jnp.float32(0.0), jnp.float32(0.0)))
        # final resampling + rejuvenation at beta = 1
        n = st.weights.shape[0]
        k, kr, km = jax.random.split(k, 3)
        idx = blackjax.smc.resampling.systematic(kr, st.weights, n)
        parts = st.particles[idx]
        scale = scale_of(parts)

        def target_fn(x):
            return logprior_fn(x) + loglikelihood_fn(x)

        def move(kk, x):
            s0 = init_fn(x, target_fn)

            def one(s, k2):
                s, _ = mcmc_step(k2, s, target_fn, scale)
                return s, None

            s, _ = jax.lax.scan(one, s0, jax.random.split(kk, num_final_moves))
            return s.position

        parts = jax.vmap(move)(jax.random.split(km, n), parts)
        return parts, st.weights, steps, logz, acc

    def run_from(k, x):
        return SMCResult(*run(smc_for(scale_of(x)).init(x), k))

    return run_from
