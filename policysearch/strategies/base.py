"""Helpers shared by the strategies: input checks, fitness sanitising, ranks, best-so-far tracking.

Every strategy follows the Strategy contract of docs/architecture.md:

    strategy = SomeStrategy(num_particles=..., pop_size=..., dim=..., <static choices>)
    params = strategy.default_params.replace(...)     # numeric hyperparameters (traced)
    state = strategy.init(key, x0, params)             # x0: [num_particles, dim] (or [dim])
    offspring, state = strategy.ask(key, state)        # [num_particles, pop_size, dim]
    state = strategy.tell(offspring, fitness, state)   # fitness [num_particles, pop_size]; MINIMISE
    strategy.means(state)                              # [num_particles, dim]
    state.best_solution, state.best_fitness            # best offspring ever seen
    state.generation                                   # int32, counts tells
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "check_int",
    "check_params_positive",
    "check_params_nonnegative",
    "prepare_x0",
    "prepare_tell",
    "sanitize_fitness",
    "ordinal_ranks",
    "update_best",
    "init_best",
]


def check_int(name: str, value: Any, minimum: int, what: str = "") -> int:
    """Static size check: an int >= minimum, else one-line ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} is invalid: must be an integer >= {minimum}{what}")
    if value < minimum:
        raise ValueError(f"{name}={value!r} is invalid: must be an integer >= {minimum}{what}")
    return int(value)


def _concrete(v: Any):
    """Concrete numpy value of ``v`` or None when it is traced (checked later is impossible)."""
    if isinstance(v, jax.core.Tracer):
        return None
    try:
        return np.asarray(v)
    except Exception:  # noqa: BLE001 - anything not convertible is not checkable
        return None


def check_params_positive(params: Any, names: tuple[str, ...]) -> None:
    """Raise ValueError when a concrete numeric field of ``params`` is not > 0 (or not finite)."""
    for name in names:
        v = _concrete(getattr(params, name))
        if v is None:
            continue
        if not np.all(np.isfinite(v)) or np.any(v <= 0):
            raise ValueError(f"{name}={v.tolist()!r} is invalid: must be a finite number > 0")


def check_params_nonnegative(params: Any, names: tuple[str, ...]) -> None:
    """Raise ValueError when a concrete numeric field of ``params`` is negative or not finite."""
    for name in names:
        v = _concrete(getattr(params, name))
        if v is None:
            continue
        if not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValueError(f"{name}={v.tolist()!r} is invalid: must be a finite number >= 0")


def prepare_x0(x0: jax.Array, num_particles: int, dim: int) -> jax.Array:
    """Accept ``[num_particles, dim]`` or, for a single particle, ``[dim]``; return float32 2-D."""
    x0 = jnp.asarray(x0, dtype=jnp.float32)
    if x0.ndim == 1 and num_particles == 1:
        x0 = x0[None, :]
    if x0.shape != (num_particles, dim):
        allowed = f"({num_particles}, {dim})" + (f" or ({dim},)" if num_particles == 1 else "")
        raise ValueError(f"x0 has shape {tuple(x0.shape)}; expected {allowed}")
    return x0


def prepare_tell(offspring, fitness, rho: int, m: int, d: int):
    """Check the shapes given to ``tell``; float32 offspring and sanitised fitness (NaN = worst)."""
    offspring = jnp.asarray(offspring, jnp.float32)
    if offspring.shape != (rho, m, d):
        raise ValueError(f"offspring has shape {offspring.shape}; expected {(rho, m, d)}")
    fitness = sanitize_fitness(fitness)
    if fitness.shape != (rho, m):
        raise ValueError(f"fitness has shape {fitness.shape}; expected {(rho, m)}")
    return offspring, fitness


def sanitize_fitness(fitness: jax.Array) -> jax.Array:
    """NaN fitness is the worst possible value: +inf (strategies minimise)."""
    fitness = jnp.asarray(fitness, dtype=jnp.float32)
    return jnp.where(jnp.isnan(fitness), jnp.inf, fitness)


def ordinal_ranks(fitness: jax.Array) -> jax.Array:
    """0-based ranks along the last axis (0 = lowest fitness); ties broken by index (stable).

    Equals evosax's ``rankdata(...) - 1`` whenever there are no ties; with ties evosax gives
    tied entries the same (truncated average) rank, which double-counts a weight.
    """
    order = jnp.argsort(fitness, axis=-1, stable=True)
    return jnp.argsort(order, axis=-1, stable=True).astype(jnp.int32)


def init_best(num_particles: int, dim: int) -> dict[str, jax.Array]:
    return dict(
        best_solution=jnp.full((dim,), jnp.nan, dtype=jnp.float32),
        best_fitness=jnp.asarray(jnp.inf, dtype=jnp.float32),
        particle_best_solution=jnp.full((num_particles, dim), jnp.nan, dtype=jnp.float32),
        particle_best_fitness=jnp.full((num_particles,), jnp.inf, dtype=jnp.float32),
    )


def update_best(state: Any, offspring: jax.Array, fitness: jax.Array) -> dict[str, jax.Array]:
    """Best-so-far over all offspring ever told (global and per particle). ``fitness`` sanitised.

    Ties keep the earlier solution (strict improvement only).
    """
    rho, m, d = offspring.shape
    idx = jnp.argmin(fitness, axis=-1)  # [rho]
    f_gen = jnp.take_along_axis(fitness, idx[:, None], axis=-1)[:, 0]
    x_gen = jnp.take_along_axis(offspring, idx[:, None, None], axis=1)[:, 0]
    better = f_gen < state.particle_best_fitness
    p_best_f = jnp.where(better, f_gen, state.particle_best_fitness)
    p_best_x = jnp.where(better[:, None], x_gen, state.particle_best_solution)
    j = jnp.argmin(f_gen)
    g_better = f_gen[j] < state.best_fitness
    best_f = jnp.where(g_better, f_gen[j], state.best_fitness)
    best_x = jnp.where(g_better, x_gen[j], state.best_solution)
    return dict(
        best_solution=best_x,
        best_fitness=best_f,
        particle_best_solution=p_best_x,
        particle_best_fitness=p_best_f,
    )
