"""Rejection sampling of p's top rho fraction under f: the baseline BTGM is compared with.

"Keep the best ``n_accept`` of ``n_accept / rho`` draws of p" is rejection sampling with the
acceptance threshold set to the empirical (1 - rho) quantile of f; it needs no threshold known
in advance and costs exactly 1 / rho draws of p (sample z, decode, evaluate f) per accepted
sample. The draws run in chunks inside one compiled ``lax.fori_loop`` with a running
``lax.top_k``; the number of chunks is traced, so one compile serves every rho.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

__all__ = ["top_fraction", "num_chunks"]

_RUNNERS: dict = {}


def num_chunks(rho: float, n_accept: int, chunk: int) -> int:
    """Chunks of ``chunk`` draws needed for ``n_accept / rho`` draws (rounded up)."""
    if not (0 < rho <= 1):
        raise ValueError(f"rho={rho!r} is invalid: must be in (0, 1]")
    return max(1, math.ceil(n_accept / rho / chunk))


def _runner(base, f: Callable, n_accept: int, chunk: int):
    ck = (id(base), id(f), n_accept, chunk)
    if ck not in _RUNNERS:
        dim = jax.eval_shape(lambda k: base.sample(k, 1), jax.random.key(0)).shape[-1]

        def run(key, n_chunks):
            def body(i, carry):
                best_f, best_z = carry
                z = base.sample(jax.random.fold_in(key, i), chunk)
                fz = f(z)
                all_f = jnp.concatenate([best_f, fz])
                vals, idx = jax.lax.top_k(all_f, n_accept)
                return vals, jnp.concatenate([best_z, z])[idx]

            init = (jnp.full((n_accept,), -jnp.inf), jnp.zeros((n_accept, dim)))
            return jax.lax.fori_loop(0, n_chunks, body, init)

        _RUNNERS[ck] = (base, f, jax.jit(run))      # keep base and f alive: ids stay unique
    return _RUNNERS[ck][2]


def top_fraction(key, base, f: Callable, rho: float, n_accept: int = 1000,
                 chunk: int = 50000) -> dict:
    """The ``n_accept`` draws of ``base`` with the largest f among ``n_chunks * chunk`` >=
    ``n_accept / rho`` draws. Returns {"samples" [n_accept, d], "f" [n_accept] (descending),
    "threshold" (smallest accepted f = the empirical (1 - rho) quantile), "draws",
    "rho_realised" (n_accept / draws)}."""
    n = num_chunks(rho, n_accept, chunk)
    vals, z = _runner(base, f, n_accept, chunk)(key, jnp.int32(n))
    vals = jax.block_until_ready(vals)
    return {"samples": z, "f": vals, "threshold": float(vals[-1]), "draws": n * chunk,
            "rho_realised": n_accept / (n * chunk)}
