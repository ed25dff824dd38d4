"""Ask/tell strategies on flat parameter vectors (strategies MINIMISE).

Registry::

    strategy = make(name, num_particles, pop_size, dim, **static)
    params = strategy.default_params.replace(...)
    state = strategy.init(key, x0, params)
    offspring, state = strategy.ask(key, state)        # [num_particles, pop_size, dim]
    state = strategy.tell(offspring, fitness, state)   # fitness [num_particles, pop_size]
    strategy.means(state)                              # [num_particles, dim]

Names (``STRATEGY_NAMES``): ``sv_cma_es`` (SV-CMA-ES), ``cma_es`` (single-population CMA-ES,
num_particles must be 1), ``mp_cma_es`` (SV-CMA-ES with gamma = 0: independent CMA-ES runs),
``svgd`` (SVGD with gradient source autodiff / es / surrogate), ``gennes`` (generator-network ES:
needs grad f, ``tell(..., gradients=)`` or ``objective=f``; docs/gennes.md), ``evosax`` (any evosax
algorithm, ``algorithm="Open_ES"``: num_particles independent evosax runs). See docs/strategies.md.
"""

from __future__ import annotations

from policysearch.strategies.cma_es import CMAES
from policysearch.strategies.evosax_adapter import EvosaxStrategy
from policysearch.strategies.gennes import GENNES, GENNESParams, GENNESState
from policysearch.strategies.sv_cma_es import MPCMAES, SVCMAES, SVCMAESParams, SVCMAESState
from policysearch.strategies.svgd import SVGD, SVGDParams, SVGDState

__all__ = [
    "STRATEGY_NAMES",
    "make",
    "needs_gradients",
    "SVCMAES",
    "SVCMAESParams",
    "SVCMAESState",
    "MPCMAES",
    "CMAES",
    "SVGD",
    "SVGDParams",
    "SVGDState",
    "GENNES",
    "GENNESParams",
    "GENNESState",
    "EvosaxStrategy",
]

STRATEGY_NAMES = ("sv_cma_es", "cma_es", "mp_cma_es", "svgd", "gennes", "evosax")

_STATIC = {
    "sv_cma_es": ("schedule", "bandwidth", "eigen_interval", "sampling", "low_memory", "kernel_space",
                  "num_probes", "embed"),
    "cma_es": ("eigen_interval", "sampling",),
    "mp_cma_es": ("eigen_interval", "sampling", "low_memory"),
    "gennes": ("noise_dim", "depth", "width", "negative_slope", "objective"),
    "svgd": ("source", "objective", "optimizer", "bandwidth", "fitness_shaping", "kernel_space", "num_probes",
             "embed"),
    "evosax": ("algorithm", "sigma_init"),
}


def needs_gradients(name: str) -> bool:
    """Whether strategy ``name`` needs gradients of the objective (a class attribute
    ``needs_gradients``, e.g. GENNES); unknown names: False. CLIs filter their ``--help`` by it."""
    classes = {"sv_cma_es": SVCMAES, "svgd": SVGD, "gennes": GENNES}
    return bool(getattr(classes.get(name), "needs_gradients", False))


def make(name: str, num_particles: int, pop_size: int, dim: int, **static):
    """Build a strategy by registry name. ``static``: the strategy's static choices, e.g.
    ``schedule``, ``bandwidth``, ``eigen_interval`` (sv_cma_es); ``eigen_interval`` (cma_es,
    mp_cma_es); ``source``, ``objective``, ``optimizer``, ``bandwidth``, ``fitness_shaping`` (svgd);
    ``noise_dim``, ``depth``, ``width``, ``negative_slope``, ``objective`` (gennes); ``algorithm``,
    ``sigma_init`` (evosax; evosax_adapter.py).
    """
    allowed = _STATIC.get(name)
    if allowed is None:
        raise ValueError(f"unknown strategy {name!r}; valid names: {', '.join(STRATEGY_NAMES)}")
    unknown = sorted(set(static) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for strategy {name!r}; valid options: {', '.join(allowed)}"
        )
    if name == "sv_cma_es":
        return SVCMAES(num_particles=num_particles, pop_size=pop_size, dim=dim, **static)
    if name == "cma_es":
        return CMAES(pop_size=pop_size, dim=dim, num_particles=num_particles, **static)
    if name == "mp_cma_es":
        return MPCMAES(num_particles=num_particles, pop_size=pop_size, dim=dim, **static)
    if name == "svgd":
        return SVGD(num_particles=num_particles, pop_size=pop_size, dim=dim, **static)
    if name == "gennes":
        return GENNES(num_particles=num_particles, pop_size=pop_size, dim=dim, **static)
    if name == "evosax":
        return EvosaxStrategy(num_particles=num_particles, pop_size=pop_size, dim=dim, **static)
    raise ValueError(f"unknown strategy {name!r}; valid names: {', '.join(STRATEGY_NAMES)}")
