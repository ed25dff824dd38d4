"""Cost of the QD archive: the main job's time per generation with and without it, in one run.

    python benchmarks/qd_archive_overhead.py [--chunks 5] [-- train overrides ...]

Builds the main job exactly as ``policysearch.train`` does (same config, same compiled
``runner.run_chunk``: all seeds, a chunk of generations per call) twice from one spec: with the
per-seed MAP-Elites archive (descriptors in the rollout, insertion, QD metrics) and with
``archive_spec=None``. After compiling both, it times ``--chunks`` chunks of each, interleaved
(on, off, on, off, ...) so that machine load hits both alike, and prints the median wall and
process-CPU seconds per generation and their ratios (on a busy machine the CPU-time ratio is
the steadier one: other processes inflate wall times, not this process's CPU time). Goal: ratio <= 1.05 on MountainCar (default overrides: the default main
job, ``env=mountaincar``, 10 seeds x 16 particles x 16 offspring, 999-step episodes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chunks", type=int, default=5, help="timed chunks per case (after compilation)")
    p.add_argument("overrides", nargs="*", help="train overrides (after --)")
    a = p.parse_args(argv)

    import jax
    import jax.numpy as jnp
    import numpy as np
    from hydra import compose, initialize_config_dir

    from policysearch import compile_cache
    from policysearch import config as run_config
    from policysearch.cli import CONFIG_DIR
    from policysearch.runner import make_runner

    compile_cache.enable()
    overrides = list(a.overrides or ["env=mountaincar"])
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides + [f"out_dir={tempfile.mkdtemp()}/r"])
    spec = run_config.build(cfg)
    if spec.archive_spec is None:
        raise SystemExit(f"error: env {spec.env_name!r} has no QD archive to measure (qd.enabled=false or "
                         "no behaviour descriptor)")
    seeds = jnp.arange(spec.seed_offset, spec.seed_offset + spec.num_seeds, dtype=jnp.int32)
    total = jnp.int32(10**6)  # never masked: every generation of a chunk runs

    cases = {}
    for name, arch in (("with archive", spec.archive_spec), ("without archive", None)):
        runner = make_runner(spec.env, spec.policy, spec.strategy, spec.strategy_params,
                             num_episodes=spec.episodes, chunk_size=spec.chunk,
                             solve_threshold=spec.solve_threshold, validation_episodes=spec.validation_episodes,
                             init_sigma_scale=spec.init_scale, archive_spec=arch)
        carry = runner.init(seeds)
        carry, _ = runner.run_chunk(carry, jnp.int32(0), total)  # compile (and one warm-up chunk)
        jax.block_until_ready(carry)
        cases[name] = {"runner": runner, "carry": carry, "generation": spec.chunk, "wall": [], "cpu": []}
    for _ in range(a.chunks):
        for c in cases.values():
            t, cpu = time.perf_counter(), time.process_time()
            c["carry"], m = c["runner"].run_chunk(c["carry"], jnp.int32(c["generation"]), total)
            jax.block_until_ready((c["carry"], m))
            c["wall"].append((time.perf_counter() - t) / spec.chunk)
            c["cpu"].append((time.process_time() - cpu) / spec.chunk)
            c["generation"] += spec.chunk
    cells = spec.archive_spec.cells
    print(f"main job: {spec.env_name}, {spec.strategy_name}, {spec.num_seeds} seeds x "
          f"{spec.evals_per_generation} evaluations x {spec.episodes} episodes per generation, "
          f"chunk {spec.chunk}; archive {cells} cells over {', '.join(spec.archive_spec.names)}")
    for k, c in cases.items():
        print(f"{k:>16}: {1e3 * statistics.median(c['wall']):8.1f} ms wall, "
              f"{1e3 * statistics.median(c['cpu']):8.1f} ms CPU per generation (medians of {a.chunks} chunks)")
    for clock in ("wall", "cpu"):
        ratio = statistics.median(cases["with archive"][clock]) / statistics.median(cases["without archive"][clock])
        print(f"ratio with/without archive ({clock}): {ratio:.3f} (goal <= 1.05)")
    np.testing.assert_array_equal(  # same search with and without the archive (it only observes)
        np.asarray(cases["with archive"]["carry"].best_return), np.asarray(cases["without archive"]["carry"].best_return))
    return 0


if __name__ == "__main__":
    sys.exit(main())
