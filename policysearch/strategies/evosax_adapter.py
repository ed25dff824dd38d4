"""Any evosax 0.3.2 algorithm on the strategy protocol: ``num_particles`` independent evosax runs.

``EvosaxStrategy(num_particles, pop_size, dim, algorithm="Open_ES")`` vmaps ``num_particles``
evosax populations of ``pop_size`` each (population i is one evosax run on its own keys) and
calls evosax's own ``init`` / ``ask`` / ``tell``, so every default (optimizer, std schedule,
fitness shaping, minimisation) is evosax's. The project adds NaN fitness = worst (+inf, before
evosax's shaping), the best-so-far records and the particle means.

Key scheme (population i, one generation's ``key``): ``k_i = key`` when ``num_particles == 1``
else ``jax.random.split(key, num_particles)[i]``; evosax's ``ask`` gets ``k_i`` and its ``tell``
gets ``jax.random.fold_in(k_i, 1)`` (kept in the state between ask and tell). ``init`` splits its
key the same way. With the same keys, population i equals evosax's own ask/tell loop bit for bit
(tests/test_evosax_adapter.py).

Hyperparameters: the evosax ``Params`` of the algorithm are ``params.params`` (traced: changing
them does not recompile). ``sigma_init`` is the algorithm's initial std:

* evosax ``Params.std_init`` (PGPE, SNES, Sep_CMA_ES, CMA_ES, ...): ``params.sigma_init``, traced
  (it replaces ``params.params.std_init``, which must keep its default);
* a ``std_schedule`` constructor argument (Open_ES, ARS, ESMC, SimpleGA, ...): the static
  ``sigma_init`` option, ``std_schedule=optax.constant_schedule(sigma_init)`` (changing it
  recompiles; None keeps evosax's ``constant_schedule(1.0)``);
* population-based algorithms without either (DifferentialEvolution, PSO):
  ``params.sigma_init`` (traced), the spread of the initial population only.

Population-based algorithms start from ``x0_i + sigma_init * N(0, I)`` (noise key
``fold_in(k_i, 1)``) with fitness +inf; their ``means`` is each population's best member
(evosax's ``get_best_solution``: lowest shaped fitness).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from evosax.algorithms import algorithms as _EVOSAX_ALGORITHMS
from evosax.algorithms.population_based.base import PopulationBasedAlgorithm
from flax import struct

from policysearch.strategies import base

__all__ = ["ALGORITHMS", "UNSUPPORTED", "EvosaxParams", "EvosaxScheduleParams", "EvosaxState",
           "EvosaxStrategy"]

# evosax algorithms that do not fit: SV_* are multi-population themselves (use sv_cma_es),
# RandomSearch needs a sampling function, DiffusionEvolution and LGA turn the never-evaluated
# initial population (fitness +inf) into NaN offspring.
UNSUPPORTED = ("SV_CMA_ES", "SV_Open_ES", "RandomSearch", "DiffusionEvolution", "LGA")
#: supported names (evosax's registry keys, ``evosax.algorithms.algorithms``)
ALGORITHMS = tuple(n for n in _EVOSAX_ALGORITHMS if n not in UNSUPPORTED)
_CLASSES = {n: _EVOSAX_ALGORITHMS[n] for n in ALGORITHMS}
_CLASSES.update({c.__name__: c for c in list(_CLASSES.values())})  # DiscoveredES = DES, ...


@struct.dataclass
class EvosaxParams:
    """Traced hyperparameters: ``sigma_init`` (see module docstring) and evosax's ``Params``."""

    sigma_init: jax.Array
    params: Any


@struct.dataclass
class EvosaxScheduleParams:
    """Traced hyperparameters of algorithms whose initial std is static (or absent)."""

    params: Any


@struct.dataclass
class EvosaxState:
    evo: Any  # the evosax state, leaves with a leading axis num_particles
    tell_key: jax.Array  # [num_particles, 2] uint32: the key of evosax's next tell per population
    generation: jax.Array
    best_solution: jax.Array
    best_fitness: jax.Array
    particle_best_solution: jax.Array
    particle_best_fitness: jax.Array
    params: Any


def _raw(key: jax.Array) -> jax.Array:
    return jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key


def _strong(tree):
    """Same values and dtypes, no weak types (a fixed carry type for lax.scan)."""
    return jax.tree.map(lambda a: jnp.asarray(a, dtype=jnp.asarray(a).dtype), tree)


@dataclasses.dataclass(frozen=True)
class EvosaxStrategy:
    """``num_particles`` independent runs of ``evosax.algorithms.<algorithm>``, ``pop_size`` each.

    Args:
      num_particles: independent evosax populations (>= 1), vmapped.
      pop_size: evosax ``population_size`` of each (>= 2; even for antithetic algorithms).
      dim: search-space dimension (>= 1).
      algorithm: a name of ``ALGORITHMS`` (evosax's registry keys; class names also accepted).
      sigma_init: static initial std of the algorithms with a ``std_schedule`` argument
        (None: evosax's default); for the others it is ``params.sigma_init``.
    """

    num_particles: int
    pop_size: int
    dim: int
    algorithm: str = "Open_ES"
    sigma_init: float | None = None

    def __post_init__(self):
        if self.algorithm not in _CLASSES:
            why = " (not supported here: docs/strategies.md)" if self.algorithm in UNSUPPORTED else ""
            raise ValueError(
                f"unknown evosax algorithm {self.algorithm!r}{why}; valid algorithms: {', '.join(ALGORITHMS)}")
        base.check_int("num_particles", self.num_particles, 1)
        base.check_int("pop_size", self.pop_size, 2)
        base.check_int("dim", self.dim, 1)
        cls = _CLASSES[self.algorithm]
        kwargs = {}
        schedule = "std_schedule" in inspect.signature(cls.__init__).parameters
        if self.sigma_init is not None:
            if not schedule:
                raise ValueError(
                    f"sigma_init is traced for evosax {self.algorithm}: set params.sigma_init "
                    "(strategy.sigma_init in a config), not the constructor option")
            s = self.sigma_init
            if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
                raise ValueError(f"sigma_init={s!r} is invalid: must be a finite number > 0")
            kwargs["std_schedule"] = optax.constant_schedule(float(s))
        try:
            evo = cls(population_size=self.pop_size, solution=jnp.zeros((self.dim,), jnp.float32), **kwargs)
        except AssertionError as exc:  # evosax checks sizes with asserts (e.g. even population)
            raise ValueError(f"pop_size={self.pop_size!r} is invalid for evosax {self.algorithm}: {exc}") from None
        with jax.ensure_compile_time_eval():  # concrete defaults even if built inside a trace
            evo_params = jax.tree.map(lambda v: v if isinstance(v, (bool, int, float)) else np.asarray(v),
                                      evo.default_params)
        has_std_init = any(f.name == "std_init" for f in dataclasses.fields(evo_params))
        population_based = isinstance(evo, PopulationBasedAlgorithm)
        traced_sigma = not schedule and (has_std_init or population_based)
        object.__setattr__(self, "_evo", evo)
        object.__setattr__(self, "_evo_default", evo_params)  # Python scalars and numpy arrays
        object.__setattr__(self, "_population_based", population_based)
        object.__setattr__(self, "_traced_sigma", traced_sigma)
        object.__setattr__(self, "_has_std_init", has_std_init)

    # ------------------------------------------------------------------ protocol
    @property
    def default_params(self):
        # Weakly typed scalars (like the Python numbers users pass to ``replace``), arrays as evosax has them.
        evo = jax.tree.map(lambda v: jnp.asarray(v.item() if v.ndim == 0 else v) if isinstance(v, np.ndarray)
                           else jnp.asarray(v), self._evo_default)
        if not self._traced_sigma:
            return EvosaxScheduleParams(params=evo)
        sigma = evo.std_init if self._has_std_init else jnp.asarray(1.0)
        return EvosaxParams(sigma_init=jnp.asarray(sigma), params=evo)

    def check_params(self, params) -> None:
        if self._traced_sigma:
            base.check_params_positive(params, ("sigma_init",))
            if self._has_std_init:
                given = base._concrete(params.params.std_init)
                if given is not None and not np.array_equal(given, np.asarray(self._evo_default.std_init, given.dtype)):
                    raise ValueError(
                        f"params.std_init={given.tolist()!r} is invalid for evosax {self.algorithm}: "
                        "set the initial std with sigma_init")

    def init(self, key: jax.Array, x0: jax.Array, params=None) -> EvosaxState:
        """``x0``: [num_particles, dim] (or [dim] when num_particles == 1): the initial means."""
        params = self.default_params if params is None else params
        self.check_params(params)
        x0 = base.prepare_x0(x0, self.num_particles, self.dim)
        return self._init(key, x0, params)

    @functools.partial(jax.jit, static_argnums=0)
    def _init(self, key, x0, params) -> EvosaxState:
        ref = self.default_params
        params = jax.tree.map(lambda d, v: jnp.asarray(v, dtype=jnp.asarray(d).dtype), ref, params)
        evo_params = self._evosax_params(params)
        evo, rho, m = self._evo, self.num_particles, self.pop_size

        def one(k, mean):
            if not self._population_based:
                return evo.init(k, mean, evo_params)
            std = params.sigma_init if self._traced_sigma else evo.std_schedule(0)
            pop = mean + std * jax.random.normal(jax.random.fold_in(k, 1), (m, self.dim))
            return evo.init(k, pop, jnp.full((m,), jnp.inf, jnp.float32), evo_params)

        keys = self._keys(key)
        state = _strong(self._map(one, keys, x0))
        return EvosaxState(
            evo=state,
            tell_key=jnp.zeros((rho,) + _raw(keys[0]).shape, jnp.uint32),
            generation=jnp.asarray(0, jnp.int32),
            params=params,
            **base.init_best(rho, self.dim),
        )

    @functools.partial(jax.jit, static_argnums=0)
    def ask(self, key: jax.Array, state: EvosaxState) -> tuple[jax.Array, EvosaxState]:
        evo, evo_params = self._evo, self._evosax_params(state.params)
        keys = self._keys(key)
        pop, evo_state = self._map(lambda k, s: evo.ask(k, s, evo_params), keys, state.evo)
        tell_key = jax.vmap(lambda k: _raw(jax.random.fold_in(k, 1)))(keys)
        return pop, state.replace(evo=_strong(evo_state), tell_key=tell_key)

    @functools.partial(jax.jit, static_argnums=0)
    def tell(self, offspring: jax.Array, fitness: jax.Array, state: EvosaxState) -> EvosaxState:
        """Update from ``fitness[num_particles, pop_size]`` (minimised; NaN = worst = +inf)."""
        offspring, fitness = base.prepare_tell(offspring, fitness, self.num_particles, self.pop_size, self.dim)
        best = base.update_best(state, offspring, fitness)
        evo, evo_params = self._evo, self._evosax_params(state.params)

        def one(k, x, f, s):
            return evo.tell(k, x, f, s, evo_params)[0]  # drop evosax's metrics

        evo_state = self._map(one, state.tell_key, offspring, fitness, state.evo)
        return state.replace(evo=_strong(evo_state), generation=state.generation + 1, **best)

    def means(self, state: EvosaxState) -> jax.Array:
        """[num_particles, dim]: the evosax mean; population-based: the best member (lowest shaped fitness)."""
        if self._population_based:
            idx = jnp.argmin(state.evo.fitness, axis=-1)
            return jnp.take_along_axis(state.evo.population, idx[:, None, None], axis=1)[:, 0]
        return state.evo.mean

    def sigmas(self, state: EvosaxState) -> jax.Array:
        """[num_particles]: evosax's ``state.std`` (mean over coordinates when per-coordinate); 0 without one."""
        std = getattr(state.evo, "std", None)
        if std is None:
            return jnp.zeros((self.num_particles,), jnp.float32)
        return jnp.mean(std.reshape(self.num_particles, -1), axis=-1)

    # ------------------------------------------------------------------ internals
    def _keys(self, key):
        if self.num_particles == 1:
            return key[None]
        return jax.random.split(key, self.num_particles)

    def _map(self, fn, *args):
        """vmap over populations; one population is called directly (exactly evosax's program)."""
        # optimization barriers keep XLA from fusing evosax's program with the adapter's own
        # ops (best tracking, reshapes): evosax's part then compiles as it does alone, bit for bit
        if self.num_particles == 1:
            args = jax.lax.optimization_barrier(tuple(jax.tree.map(lambda a: a[0], a) for a in args))
            out = jax.lax.optimization_barrier(fn(*args))
            return jax.tree.map(lambda a: a[None], out)
        return jax.lax.optimization_barrier(jax.vmap(fn)(*jax.lax.optimization_barrier(args)))

    def _evosax_params(self, params):
        evo_params = params.params
        if self._traced_sigma and self._has_std_init:
            evo_params = evo_params.replace(std_init=params.sigma_init)
        return evo_params
