"""QD metrics of an archive: exactly `qdax.utils.metrics.default_qd_metrics` (QDax 0.5.0).

* ``qd_score`` = sum over filled cells of (fitness + ``qd_offset``); the offset (the env's
  ``qd_offset``) makes every fitness >= 0 so the score only grows as cells fill or improve;
* ``coverage`` = 100 x the fraction of filled cells (a percentage, as QDax);
* ``max_fitness`` = the best fitness in the archive (-inf when empty).

Works on JAX or NumPy arrays (the report calls it on exported archives).
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["qd_metrics", "solving_cells"]


def qd_metrics(fitnesses, qd_offset: float) -> dict:
    """{"qd_score", "coverage", "max_fitness"} of an archive's fitnesses [C] (-inf = empty)."""
    fitnesses = jnp.asarray(fitnesses)
    empty = fitnesses == -jnp.inf
    qd_score = jnp.sum(fitnesses, where=~empty) + qd_offset * jnp.sum(1.0 - empty)
    return {"qd_score": qd_score, "coverage": 100 * jnp.mean(1.0 - empty), "max_fitness": jnp.max(fitnesses)}


def solving_cells(fitnesses, threshold: float):
    """Number of filled cells whose elite reaches the solve threshold ("distinct solving behaviours")."""
    return jnp.sum(jnp.asarray(fitnesses) >= threshold)
