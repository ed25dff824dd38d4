"""Run ask/tell strategies on a target density and score them against its ground truth.

One compiled program per (method, target): ``jit(vmap over seeds(scan over records(scan over
generations)))``. The particle set (``strategy.means(state)``; for a single-population strategy,
num_particles == 1, the last offspring population) is recorded every ``record_every``
generations, together with the function-evaluation count, so curves are indexed by
evaluations.

Evaluation counting: every fitness evaluation f(x) counts 1, and so does every gradient
evaluation grad log p(x) of SVGD with autodiff gradients (a generous convention for the
gradient-based reference). Per generation: ES strategies num_particles x pop_size; SVGD
(autodiff or GF-SVGD surrogate) num_particles; SVGD with ES gradients num_particles x pop_size.

Methods (:data:`METHODS`, :func:`make_method`):

* ``sv_cma_es``  project SV-CMA-ES (policysearch.strategies), library defaults
* ``mp_cma_es``  kernel-free multi-population CMA-ES (gamma = 0)
* ``cma_es``     single-population CMA-ES (samples = its last offspring population)
* ``svgd``       SVGD with autodiff gradients (the reference, "nabla-SVGD")
* ``svgd_es``    SVGD with ES (Gaussian-smoothing) gradient estimates
* ``svgd_gf``    gradient-free SVGD (GF-SVGD, KDE surrogate + importance weights)
* ``evosax_sv_cma_es`` evosax 0.3.2 ``SV_CMA_ES`` (its defaults: fixed kernel_std = 1, alpha = 1)
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .metrics import MMDToReference, ksd2_unbiased, median_bandwidth
from .base import Target

__all__ = ["METHODS", "Method", "make_method", "make_method_from_config", "run_method",
           "SamplerRun", "EvosaxSVCMAES", "mmd_curve", "ksd_curve"]

METHODS = ("sv_cma_es", "mp_cma_es", "cma_es", "svgd", "svgd_es", "svgd_gf",
           "evosax_sv_cma_es")


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    strategy: Any
    params: Any
    evals_per_generation: int


# -----------------------------------------------------------------------------------------
class _EvoState(NamedTuple):
    es_state: Any
    params: Any


@dataclasses.dataclass(frozen=True, eq=False)
class EvosaxSVCMAES:
    """evosax 0.3.2 ``SV_CMA_ES`` behind the project's Strategy contract (for comparison).

    ``params`` are evosax's (``default_params.replace(std_init=..., kernel_std=..., alpha=...)``);
    ask returns [num_particles, pop_size, dim]; tell takes fitness [num_particles, pop_size]."""

    num_particles: int
    pop_size: int
    dim: int

    def __post_init__(self):
        from evosax.algorithms import SV_CMA_ES
        es = SV_CMA_ES(population_size=self.pop_size, num_populations=self.num_particles,
                       solution=jnp.zeros(self.dim))
        object.__setattr__(self, "_es", es)

    @property
    def default_params(self):
        return self._es.default_params

    def init(self, key, x0, params=None):
        params = self.default_params if params is None else params
        return _EvoState(self._es.init(key, jnp.asarray(x0, jnp.float32), params), params)

    def ask(self, key, state):
        pop, es_state = self._es.ask(key, state.es_state, state.params)
        pop = pop.reshape(self.num_particles, self.pop_size, self.dim)
        return pop, state._replace(es_state=es_state)

    def tell(self, offspring, fitness, state):
        es_state, _ = self._es.tell(jax.random.key(0),
                                    offspring.reshape(-1, self.dim), fitness.reshape(-1),
                                    state.es_state, state.params)
        return state._replace(es_state=es_state)

    def means(self, state):
        return state.es_state.mean


# -----------------------------------------------------------------------------------------
def make_method(name: str, target: Target, num_particles: int, pop_size: int,
                num_generations: int, sigma_init: float | None = None, **params) -> Method:
    """Build a method on ``target``. ``params``: numeric overrides of the strategy's params
    (e.g. ``learning_rate`` for SVGD, ``alpha`` for SV-CMA-ES); ``sigma_init`` sets the initial
    step size of the CMA-ES based methods (and evosax's ``std_init``) and the ES smoothing
    ``sigma`` of ``svgd_es`` when not given separately."""
    from policysearch import strategies

    d = target.dim
    if name in ("sv_cma_es", "mp_cma_es", "cma_es"):
        if name == "cma_es":
            s = strategies.make("cma_es", num_particles=1, pop_size=pop_size, dim=d)
        else:
            s = strategies.make(name, num_particles=num_particles, pop_size=pop_size, dim=d)
        p = s.default_params.replace(num_generations=float(num_generations))
        if sigma_init is not None:
            p = p.replace(sigma_init=float(sigma_init))
        p = p.replace(**params)
        return Method(name, s, p, s.num_particles * pop_size)
    if name in ("svgd", "svgd_gf"):
        source = "autodiff" if name == "svgd" else "surrogate"
        kw = {"objective": _objective(target)} if source == "autodiff" else {}
        s = strategies.make("svgd", num_particles=num_particles, pop_size=1, dim=d,
                            source=source, **kw)
        p = s.default_params.replace(**params)
        return Method(name, s, p, num_particles)
    if name == "svgd_es":
        s = strategies.make("svgd", num_particles=num_particles, pop_size=pop_size, dim=d,
                            source="es")
        p = s.default_params
        if sigma_init is not None:
            p = p.replace(sigma=float(sigma_init))
        p = p.replace(**params)
        return Method(name, s, p, num_particles * pop_size)
    if name == "evosax_sv_cma_es":
        s = EvosaxSVCMAES(num_particles, pop_size, d)
        p = s.default_params
        if sigma_init is not None:
            p = p.replace(std_init=float(sigma_init))
        p = p.replace(**params)
        return Method(name, s, p, num_particles * pop_size)
    raise ValueError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")


_OBJECTIVES: dict = {}


def _objective(target: Target) -> Callable:
    """f = -log p on one point, one function object per target (so jit caches are shared)."""
    key = id(target)
    if key not in _OBJECTIVES:
        _OBJECTIVES[key] = (target, lambda x: -target.log_prob(x))
    return _OBJECTIVES[key][1]


def make_method_from_config(strategy_cfg: dict, target: Target, num_generations: int) -> Method:
    """Method from a strategy config-group entry (configs/strategy/*.yaml, shared with train).

    Keys that are fields of the strategy's params go there; the other non-null keys are static
    options. For ``svgd`` with ``source: autodiff`` the target's f is the objective and pop_size
    is forced to 1 (also for ``surrogate``)."""
    from policysearch import strategies

    s = dict(strategy_cfg)
    name = s.pop("name")
    rho = s.pop("num_particles")
    m = s.pop("pop_size")
    extra = {k: v for k, v in s.items() if v is not None}
    if extra.get("kernel_space", "parameters") != "parameters":  # the "function" of a point is the point
        raise ValueError(f"strategy.kernel_space={extra['kernel_space']!r} is invalid for density sampling; "
                         "allowed: parameters (kernel_space=actions is for policies)")
    if name == "svgd":
        src = extra.get("source", "es")
        if src in ("autodiff", "surrogate"):
            m = 1
        if src == "autodiff":
            extra["objective"] = _objective(target)
    if name not in strategies.STRATEGY_NAMES:
        raise ValueError(f"unknown strategy {name!r}; valid names: "
                         f"{', '.join(strategies.STRATEGY_NAMES)}")
    if name == "gennes":   # an optimiser (its particles collapse onto minima), not a sampler
        raise ValueError("gennes is an optimiser, not a sampler: use python -m policysearch.optimize; "
                         "samplers: sv_cma_es, mp_cma_es, cma_es, svgd")
    if name == "evosax":  # its params depend on the algorithm: the main job's routing
        from policysearch.config import make_strategy

        strat, params = make_strategy({"name": name, "num_particles": rho, "pop_size": m, **extra}, target.dim)
        return Method(name, strat, params, strat.num_particles * strat.pop_size)
    pcls = strategies.SVGDParams if name == "svgd" else strategies.SVCMAESParams
    fields = {f.name for f in dataclasses.fields(pcls)}
    static = {k: v for k, v in extra.items() if k not in fields}
    numeric = {}
    for k, v in extra.items():
        if k in fields:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"strategy.{k}={v!r} is invalid: must be a number")
            numeric[k] = float(v)
    if "num_generations" in fields:
        numeric.setdefault("num_generations", float(num_generations))
    strat = strategies.make(name, num_particles=rho, pop_size=m, dim=target.dim, **static)
    params = strat.default_params.replace(**numeric)
    if hasattr(strat, "check_params"):
        strat.check_params(params)
    return Method(name, strat, params, strat.num_particles * strat.pop_size)


# -----------------------------------------------------------------------------------------
class SamplerRun(NamedTuple):
    samples: np.ndarray      # [num_seeds, num_records + 1, n, d] (record 0 = initial particles)
    evaluations: np.ndarray  # [num_records + 1]
    seconds: float           # wall-clock of the compiled program (all seeds together)
    compile_seconds: float
    generations: int


def run_method(method: Method, target: Target, seeds, num_generations: int,
               record_every: int, params_grid: list | None = None) -> SamplerRun:
    """Run ``method`` on ``target`` for ``num_generations`` generations for every seed in
    ``seeds`` (vmapped), recording the particle set every ``record_every`` generations.

    ``params_grid``: optional list of params pytrees (same strategy, other numeric values):
    all of them run in the same compiled program (params are traced), and ``samples`` gets a
    leading grid axis: [G, num_seeds, num_records + 1, n, d]. ``seconds`` is the wall-clock of
    the whole compiled call (all grid points and seeds)."""
    if num_generations % record_every:
        raise ValueError(f"num_generations={num_generations} must be a multiple of "
                         f"record_every={record_every}")
    strategy = method.strategy
    num_records = num_generations // record_every
    single = strategy.num_particles == 1

    def samples_of(state, offspring):
        return offspring[0] if single else strategy.means(state)

    def one_seed(seed, params):
        key = jax.random.key(seed)
        k0, k1, kr = jax.random.split(key, 3)
        x0 = target.init_particles(k0, strategy.num_particles)
        state = strategy.init(k1, x0, params)

        def gen(st, k):
            off, st = strategy.ask(k, st)
            fit = target.fitness(off)
            st = strategy.tell(off, fit, st)
            return st, off

        def rec(st, k):
            st, offs = jax.lax.scan(gen, st, jax.random.split(k, record_every))
            return st, samples_of(st, offs[-1])

        _, recs = jax.lax.scan(rec, state, jax.random.split(kr, num_records))
        if single:
            off0, _ = strategy.ask(k1, state)
            first = off0[0]
        else:
            first = strategy.means(state)
        return jnp.concatenate([first[None], recs], 0)

    seeds_a = jnp.asarray(list(seeds), jnp.int32)
    if params_grid is None:
        fn = jax.jit(jax.vmap(one_seed, in_axes=(0, None)))
        args = (seeds_a, method.params)
    else:
        grid = jax.tree.map(lambda *v: jnp.stack([jnp.asarray(u) for u in v]), *params_grid)
        fn = jax.jit(jax.vmap(jax.vmap(one_seed, in_axes=(0, None)), in_axes=(None, 0)))
        args = (seeds_a, grid)
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))
    t2 = time.perf_counter()
    evals = np.arange(num_records + 1) * record_every * method.evals_per_generation
    return SamplerRun(np.asarray(out), evals, t2 - t1, t1 - t0, num_generations)


# -----------------------------------------------------------------------------------------
def mmd_curve(samples, reference: MMDToReference) -> np.ndarray:
    """MMD^2 of every recorded set: samples [..., n, d] -> [...]."""
    x = jnp.asarray(samples, jnp.float32)
    lead = x.shape[:-2]
    flat = x.reshape((-1,) + x.shape[-2:])
    vals = jax.jit(jax.vmap(reference.__call__))(flat)
    return np.asarray(vals).reshape(lead)


def ksd_curve(samples, target: Target, bandwidth: float | None = None) -> np.ndarray:
    """KSD^2 (RBF Stein kernel; bandwidth median heuristic per set unless given) of every
    recorded set: samples [..., n, d] -> [...]."""
    x = jnp.asarray(samples, jnp.float32)
    lead = x.shape[:-2]
    flat = x.reshape((-1,) + x.shape[-2:])

    def one(xs):
        h = median_bandwidth(xs) if bandwidth is None else bandwidth
        return ksd2_unbiased(xs, jax.vmap(target.score)(xs), h)

    vals = jax.jit(jax.vmap(one))(flat)
    return np.asarray(vals).reshape(lead)
