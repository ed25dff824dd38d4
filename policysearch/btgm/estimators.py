"""The "theoretical" curves of BTGM: estimates of the tilted model q_beta ∝ p e^{beta f}
from samples of p alone (importance sampling, eqs. 29-31) or from tempered SMC.

With f_i = f(x_i), x_i ~ p, and log-weights l_i = beta f_i, w = softmax(l):
    log Z(beta) = logsumexp(l) - log N,   E_q f = sum_i w_i f_i,
    Var_q f = sum_i w_i (f_i - E_q f)^2,  M3 = sum_i w_i (f_i - E_q f)^3,
    KL(q_beta || p) = beta E_q f - log Z = log N - H(w)    (<= log N: IS saturates),
    ESS = 1 / sum_i w_i^2.
Where the KL approaches log N the importance weights degenerate; :func:`smc_estimates` then
samples q_beta by adaptive tempered SMC (policysearch.density.samplers.tempered_smc) and
reads the same quantities from its particles and its evidence estimate.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

__all__ = ["tilt_estimates", "tilt_curve", "smc_estimates", "smc_curve", "sample_moments",
           "ESTIMATE_KEYS"]

ESTIMATE_KEYS = ("log_z", "mean", "var", "m3", "kl", "ess")


def tilt_estimates(f_values, beta) -> dict:
    """Importance-sampling estimates of q_beta from f over N samples of p.

    ``f_values`` [N] (f(x_i), x_i ~ p; finite), ``beta`` scalar >= 0 (or any array shape
    broadcastable against a leading axis: use :func:`tilt_curve` for a grid). Returns a dict
    of scalars: ``log_z``, ``mean`` (E_q f), ``var`` (Var_q f), ``m3`` (third central moment),
    ``kl`` (KL(q_beta||p)), ``ess`` (effective sample size, in samples), ``ess_frac``
    (ESS / N) and ``kl_max`` (= log N, the ceiling of the IS KL estimate). jit/vmap-able."""
    f = jnp.asarray(f_values, jnp.float32).reshape(-1)
    beta = jnp.asarray(beta, jnp.float32)
    n = f.shape[0]
    lw = beta * f
    lse = logsumexp(lw)
    w = jnp.exp(lw - lse)
    mean = jnp.sum(w * f)
    c = f - mean
    var = jnp.sum(w * c ** 2)
    m3 = jnp.sum(w * c ** 3)
    log_z = lse - jnp.log(n)
    ess = 1.0 / jnp.sum(w ** 2)
    return {"log_z": log_z, "mean": mean, "var": var, "m3": m3,
            "kl": jnp.maximum(beta * mean - log_z, 0.0), "ess": ess, "ess_frac": ess / n,
            "kl_max": jnp.log(jnp.float32(n))}


def tilt_curve(f_values, betas) -> dict:
    """:func:`tilt_estimates` on a grid of betas [B] -> dict of [B] arrays."""
    return jax.jit(jax.vmap(tilt_estimates, in_axes=(None, 0)))(
        jnp.asarray(f_values, jnp.float32), jnp.asarray(betas, jnp.float32))


def sample_moments(f_values) -> dict:
    """Plain Monte-Carlo moments of f over equally weighted samples: mean, var, m3 and the
    standard error of the mean (``se``)."""
    f = jnp.asarray(f_values, jnp.float32).reshape(-1)
    m = jnp.mean(f)
    c = f - m
    var = jnp.mean(c ** 2)
    return {"mean": m, "var": var, "m3": jnp.mean(c ** 3), "se": jnp.sqrt(var / f.shape[0])}


def _pointwise(fn_batched: Callable) -> Callable:
    return lambda x: fn_batched(x[None])[0]


def smc_estimates(key, base, f: Callable, beta, n: int = 2000, **smc_kwargs) -> dict:
    """Estimates of q_beta by adaptive tempered SMC from p to p e^{beta f}.

    ``base``: sample(key, n) -> [n, d], log_prob(x [n, d]) -> [n]; ``f``: [n, d] -> [n].
    Returns the :func:`tilt_estimates` keys (``ess`` = the ESS of the final SMC weights,
    ``kl`` = beta E_q f - log Z with log Z the SMC evidence), plus ``samples`` [n, d] (equally
    weighted draws of q_beta), ``num_steps`` (tempering steps) and ``acceptance_rate``.
    ``smc_kwargs`` go to :func:`policysearch.density.samplers.make_tempered_smc`.
    beta is traced: one compile serves every beta (see :func:`smc_curve`)."""
    return _smc_fn(base, f, n, tuple(sorted(smc_kwargs.items())))(key, jnp.float32(beta))


_SMC_CACHE: dict = {}


def _smc_fn(base, f, n, smc_items):
    ck = (id(base), id(f), n, smc_items)
    if ck in _SMC_CACHE:
        return _SMC_CACHE[ck][2]
    from policysearch.density.samplers import make_tempered_smc

    log_p = _pointwise(base.log_prob)
    f1 = _pointwise(f)
    dim = jax.eval_shape(lambda k: base.sample(k, 1), jax.random.key(0)).shape[-1]

    def one(key, beta):
        k0, k1 = jax.random.split(key)
        x0 = base.sample(k0, n)
        run = make_tempered_smc(log_p, lambda x: beta * f1(x), dim, **dict(smc_items))
        res = run(k1, x0)
        fq = f(res.samples)
        mom = sample_moments(fq)
        w = res.weights
        return {"log_z": res.log_evidence, "mean": mom["mean"], "var": mom["var"],
                "m3": mom["m3"], "kl": jnp.maximum(beta * mom["mean"] - res.log_evidence, 0.0),
                "ess": 1.0 / jnp.sum(w ** 2), "samples": res.samples,
                "num_steps": res.num_steps, "acceptance_rate": res.acceptance_rate}

    # beta = 0 is p itself; a zero likelihood would stall the adaptive schedule: use 1e-6
    fn = jax.jit(lambda key, beta: one(key, jnp.maximum(beta, 1e-6)))
    _SMC_CACHE[ck] = (base, f, fn)          # keep base and f alive: ids stay unique
    return fn


def smc_curve(key, base, f: Callable, betas, n: int = 2000, **smc_kwargs) -> dict:
    """:func:`smc_estimates` on a grid of betas (vmapped, one compile); samples dropped."""
    fn = _smc_fn(base, f, n, tuple(sorted(smc_kwargs.items())))
    betas = jnp.asarray(betas, jnp.float32)
    keys = jax.random.split(key, betas.shape[0])
    out = jax.jit(jax.vmap(fn))(keys, betas)
    out.pop("samples")
    return out
