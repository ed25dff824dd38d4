"""Evaluations per second: our main job (with its QD archive) vs QDax's MAP-Elites, one task, one run.

    python benchmarks/qd_throughput.py                          # pointmaze, CPU settings
    python benchmarks/qd_throughput.py --task hopper_uni --chunks 3
    python benchmarks/qd_throughput.py --strategy cma_es --seeds 10 --iterations 50

Both sides as in experiments/qd_comparison.py (same policy network, batch, seeds, cells; QDax's
scoring function is our rollout): ours is ``policysearch.train``'s compiled chunk (all seeds,
``--iterations`` generations of ``--batch`` evaluations, archive insertion and QD metrics inside),
built exactly as the main job builds it; QDax's is ``MAPElites.scan_update`` (isoline variation)
for the same iterations, vmapped over the same seeds. After compiling both, ``--chunks`` chunks of
each are timed interleaved (ours, QDax, ours, ...) so machine load hits both alike; printed:
the median evaluations per second of each and the ratio ours / QDax.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv=None):
    from experiments import qd_comparison as qdc

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="pointmaze", choices=sorted(qdc.GPU))
    p.add_argument("--strategy", default="sv_cma_es", choices=qdc.OUR_METHODS)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--particles", type=int, default=4)
    p.add_argument("--iterations", type=int, default=20, help="generations / iterations per timed chunk")
    p.add_argument("--cells", type=int, default=1024)
    p.add_argument("--chunks", type=int, default=5, help="timed chunks per side (after compilation)")
    p.add_argument("--gpu", action="store_true", help="the comparison's GPU settings for the task")
    a = p.parse_args(argv)

    import jax
    import jax.numpy as jnp

    from policysearch import compile_cache
    from policysearch import config as run_config
    from policysearch.runner import make_runner

    compile_cache.enable()
    cfg = dict((qdc.GPU if a.gpu else qdc.CPU).get(a.task, qdc.GPU_BRAX), iterations=a.iterations)
    overrides = qdc.our_overrides(a.strategy, a.task, cfg, a, os.path.join(tempfile.mkdtemp(), "r"))
    spec = run_config.build(qdc._compose(overrides))
    runner = make_runner(spec.env, spec.policy, spec.strategy, spec.strategy_params,
                         num_episodes=spec.episodes, chunk_size=spec.chunk,
                         solve_threshold=spec.solve_threshold, validation_episodes=spec.validation_episodes,
                         init_sigma_scale=spec.init_scale, archive_spec=spec.archive_spec)
    seeds = jnp.arange(a.seeds, dtype=jnp.int32)
    total = jnp.int32(10**6)  # never masked: every generation of a chunk runs

    centroids = jnp.asarray(spec.archive_spec.centroids)
    algo = qdc.qdax_algorithm("map_elites", spec.env, spec.policy, centroids, spec.archive_spec.qd_offset, a.batch)
    qdax_init = jax.jit(jax.vmap(lambda s: qdc.qdax_init(algo, spec.policy, centroids, a.batch, s)[0]))
    qdax_chunk = jax.jit(jax.vmap(lambda c: jax.lax.scan(algo.scan_update, c, None, length=a.iterations)))

    ours = {"carry": runner.init(seeds), "generation": 0, "times": []}
    theirs = {"carry": qdax_init(seeds), "times": []}

    def step_ours():
        ours["carry"], m = runner.run_chunk(ours["carry"], jnp.int32(ours["generation"]), total)
        jax.block_until_ready((ours["carry"], m))
        ours["generation"] += a.iterations

    def step_theirs():
        theirs["carry"], m = qdax_chunk(theirs["carry"])
        jax.block_until_ready((theirs["carry"], m))

    step_ours(), step_theirs()  # compile (and one warm-up chunk each)
    for _ in range(a.chunks):
        for side, fn in ((ours, step_ours), (theirs, step_theirs)):
            t = time.perf_counter()
            fn()
            side["times"].append(time.perf_counter() - t)
    evals = a.seeds * a.iterations * a.batch
    rate = {k: evals / statistics.median(s["times"]) for k, s in (("ours", ours), ("qdax", theirs))}
    print(f"{a.task}: {a.seeds} seeds x {a.iterations} iterations x {a.batch} evaluations per chunk, "
          f"MLP {list(spec.policy.hidden_sizes)} ({spec.policy.num_params} parameters), "
          f"{spec.env.max_episode_steps}-step episodes, {spec.archive_spec.cells} cells")
    print(f"ours ({a.strategy} main job, archive on): {rate['ours']:10.0f} evaluations/s (median of {a.chunks} chunks)")
    print(f"QDax MAP-Elites (isoline):{'':8}{rate['qdax']:10.0f} evaluations/s")
    print(f"ratio ours / QDax: {rate['ours'] / rate['qdax']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
