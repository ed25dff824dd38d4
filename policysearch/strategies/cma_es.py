"""Single-population CMA-ES baseline on the strategy protocol.

Not a second CMA-ES implementation: it is the SV-CMA-ES core (evosax 0.3.2 ``CMA_ES`` arithmetic
per particle) with one particle and the repulsion switched off. It equals evosax ``CMA_ES``
(same offspring for the same key, same update; tested in tests/test_strategies.py).
"""

from __future__ import annotations

from policysearch.strategies import base
from policysearch.strategies.sv_cma_es import SVCMAES

__all__ = ["CMAES"]


def CMAES(pop_size: int, dim: int, eigen_interval: int | str = "auto", num_particles: int = 1,
          **static) -> SVCMAES:
    """CMA-ES with population ``pop_size`` in ``dim`` dimensions; state arrays carry a leading axis of 1.

    ``init`` accepts ``x0`` of shape ``[dim]`` or ``[1, dim]``; ``means(state)`` is ``[1, dim]``;
    ``ask`` gives ``[1, pop_size, dim]`` and ``tell`` takes fitness ``[1, pop_size]``.
    """
    if num_particles != 1:
        raise ValueError(
            f"num_particles={num_particles!r} is invalid for cma_es: must be 1 "
            "(use 'mp_cma_es' for several independent CMA-ES populations)"
        )
    base.check_int("pop_size", pop_size, 2)
    return SVCMAES(num_particles=1, pop_size=pop_size, dim=dim, eigen_interval=eigen_interval, repulsion=False, **static)
