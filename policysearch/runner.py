"""The compiled training program: all seeds, a chunk of generations, in one jitted call.

`make_runner` returns `init(seeds) -> carry` and `run_chunk(carry, start_generation) ->
(carry, metrics)`. The carry is a pytree with one leading seed axis; `run_chunk` is
`jit(vmap(scan(generation)))`. The host only sees chunk boundaries (logging, progress bar,
checkpoints, early stop).

A strategy with ``kernel_space="actions"`` gets ``kernels.ActionEmbedding(policy)`` as its
``embed`` and, every generation inside the compiled program, fresh probe observations drawn
from that generation's visited observations (``N(mean, var)`` of the rollout's statistics) as
its ``embed_context``. With ``kernel_space="parameters"`` nothing of this is traced.

With an archive spec (policysearch/qd, docs/qd.md) every evaluated offspring goes, inside the
same compiled generation, into the seed's MAP-Elites archive (fitness = its training return,
descriptor = its behaviour descriptor, both means over the generation's episodes); the archive
is part of the carry (checkpointed, exported) and the QD metrics are logged every generation.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp

from . import kernels
from .policy import MLPPolicy, ObsNormState
from .qd import archive as qd_archive
from .qd.metrics import qd_metrics
from .rollout import make_population_evaluator

NEVER = -1  # first_solved_generation before a solve


@flax.struct.dataclass
class SeedCarry:
    """Everything one seed's run needs to continue exactly (checkpointed as is)."""

    key: jax.Array  # raw uint32 PRNG key
    strategy_state: Any
    obs_stats: ObsNormState
    best_params: jax.Array  # [d] best offspring by training return
    best_return: jax.Array  # its training return
    first_solved_generation: jax.Array  # int32, NEVER until a population return >= threshold
    evaluations: jax.Array  # int32 policy evaluations so far
    nan_total: jax.Array  # int32
    archive: Any = None  # qd.Archive of every evaluated policy (None when the run has no archive)


def pairwise_mean_distance(x):
    """Mean Euclidean distance over distinct pairs of rows of x [n, d] (0 for n < 2)."""
    n = x.shape[0]
    if n < 2:
        return jnp.float32(0.0)
    sq = jnp.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    dist = jnp.sqrt(jnp.maximum(sq, 1e-30)) * (1.0 - jnp.eye(n))
    return jnp.sum(dist) / (n * (n - 1))


@dataclasses.dataclass(frozen=True)
class Runner:
    init: Callable  # (seeds int32[S]) -> SeedCarry with leading axis S
    run_chunk: Callable  # (carry, start_generation, total_generations) -> (carry, metrics)
    validate: Callable  # (carry, key) -> (candidate params [S, C, d], returns [S, C])
    candidates: Callable  # (carry) -> params [S, C, d]


def make_runner(
    env,
    policy: MLPPolicy,
    strategy,
    strategy_params,
    *,
    num_episodes: int,
    chunk_size: int,
    solve_threshold: float,
    validation_episodes: int,
    init_sigma_scale: float = 1.0,
    population_constraint: Callable | None = None,
    archive_spec=None,
) -> Runner:
    """Build the compiled functions of a run (nothing is compiled until first call).

    `archive_spec` (a `qd.ArchiveSpec`, or None for no archive): the per-seed QD archive.
    """
    function_kernel = getattr(strategy, "kernel_space", "parameters") != "parameters"
    if function_kernel and strategy.embed is None:
        strategy = dataclasses.replace(strategy, embed=kernels.ActionEmbedding(policy, strategy.num_probes))
    qd = archive_spec
    evaluate = make_population_evaluator(
        env, policy, num_episodes, track_observations=policy.normalize_observations or function_kernel,
        descriptors=qd is not None)
    validate_eval = make_population_evaluator(env, policy, validation_episodes, descriptors=False)
    num_particles, pop_size, dim = strategy.num_particles, strategy.pop_size, strategy.dim

    def init_seed(seed):
        key = jax.random.PRNGKey(seed)
        key, k_particles, k_init = jax.random.split(key, 3)
        x0 = jax.vmap(policy.init_flat)(jax.random.split(k_particles, num_particles))
        x0 = x0 * init_sigma_scale
        state = strategy.init(k_init, x0, strategy_params)
        return SeedCarry(
            key=key,
            strategy_state=state,
            obs_stats=ObsNormState.create(policy.observation_size),
            best_params=x0[0],
            best_return=jnp.float32(-jnp.inf),
            first_solved_generation=jnp.int32(NEVER),
            evaluations=jnp.int32(0),
            nan_total=jnp.int32(0),
            archive=None if qd is None else qd_archive.init(qd.centroids, qd.low, qd.high, dim, qd.grid),
        )

    def generation(carry: SeedCarry, g):
        key, k_ask, k_eval = jax.random.split(carry.key, 3)
        offspring, state = strategy.ask(k_ask, carry.strategy_state)
        population = offspring.reshape(-1, dim)
        if population_constraint is not None:  # multi-device: split the evaluations
            population = population_constraint(population)
        result = evaluate(population, k_eval, carry.obs_stats)
        returns = result.returns
        obs_stats = carry.obs_stats
        if policy.normalize_observations:
            obs_stats = obs_stats.update(result.obs_mean, result.obs_var, result.obs_count)
        fitness = -returns.reshape(num_particles, pop_size)
        if function_kernel:  # probes from this generation's visited observations
            ctx = strategy.embed.context(jax.random.fold_in(k_eval, 1), result.obs_mean, result.obs_var,
                                         obs_stats if policy.normalize_observations else None)
            state = strategy.tell(offspring, fitness, state, embed_context=ctx)
        else:
            state = strategy.tell(offspring, fitness, state)
        i_best = jnp.argmax(returns)
        gen_best = returns[i_best]
        improved = gen_best > carry.best_return
        best_params = jnp.where(improved, offspring.reshape(-1, dim)[i_best], carry.best_params)
        best_return = jnp.maximum(gen_best, carry.best_return)
        solved_now = (gen_best >= solve_threshold) & (carry.first_solved_generation == NEVER)
        first = jnp.where(solved_now, g + 1, carry.first_solved_generation)
        evaluations = carry.evaluations + num_particles * pop_size
        means = strategy.means(state)
        sig = jnp.atleast_1d(strategy.sigmas(state)) if hasattr(strategy, "sigmas") else jnp.zeros(1)
        metrics = {
            "generation": g + 1,
            "evaluations": evaluations,
            "best_return": gen_best,
            "mean_return": jnp.mean(returns),
            "median_return": jnp.median(returns),
            "best_so_far": best_return,
            "sigma_mean": jnp.mean(sig),
            "sigma_min": jnp.min(sig),
            "sigma_max": jnp.max(sig),
            "diversity_mean_pairwise": pairwise_mean_distance(means),
            "nan_count": result.nan_count,
            "episode_length": jnp.mean(result.episode_length),
        }
        if hasattr(state, "repulsion_ratio"):  # SV-CMA-ES: repulsion step / neutral CMA step
            metrics["repulsion_ratio"] = state.repulsion_ratio
        archive = carry.archive
        if qd is not None:  # every evaluated policy into the seed's archive
            fit = jnp.where(result.finite, returns, jnp.nan)  # a NaN return never enters
            desc = result.descriptors
            if qd.dims != tuple(range(desc.shape[1])):  # a subset of the env's descriptor
                desc = desc[:, list(qd.dims)]
            archive, clipped = qd_archive.add(archive, population, desc, fit)
            metrics.update(qd_metrics(archive.fitnesses, qd.qd_offset))
            metrics["descriptor_clipped"] = clipped
        new = SeedCarry(
            key=key,
            strategy_state=state,
            obs_stats=obs_stats,
            best_params=best_params,
            best_return=best_return,
            first_solved_generation=first,
            evaluations=evaluations,
            nan_total=carry.nan_total + result.nan_count,
            archive=archive,
        )
        return new, metrics

    def chunk_seed(carry, start, total):
        def body(c, i):
            g = start + i
            # Generations past the end run nothing: the carry is kept, metrics are masked.
            return jax.lax.cond(
                g < total,
                lambda c: generation(c, g),
                lambda c: (c, jax.tree.map(jnp.zeros_like, jax.eval_shape(generation, c, g)[1])),
                c,
            )

        return jax.lax.scan(body, carry, jnp.arange(chunk_size))

    def candidates_seed(carry):
        return jnp.concatenate([carry.best_params[None], strategy.means(carry.strategy_state)], 0)

    def validate_seed(carry, key):
        cands = candidates_seed(carry)
        return cands, validate_eval(cands, key, carry.obs_stats).returns

    run_chunk = jax.jit(jax.vmap(chunk_seed, in_axes=(0, None, None)))
    validate = jax.jit(jax.vmap(validate_seed, in_axes=(0, None)))
    return Runner(
        init=jax.jit(jax.vmap(init_seed)),
        run_chunk=run_chunk,
        validate=validate,
        candidates=jax.jit(jax.vmap(candidates_seed)),
    )
