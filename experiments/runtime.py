"""Wall-clock per generation on Brax locomotion (the slides' bonus runtime comparison).

    python experiments/runtime.py [--envs halfcheetah hopper walker2d] [--generations 5]
                                  [--episode-length 100] [--backend spring] [--out FILE.json]

SV-CMA-ES, CMA-ES, SVGD with ES gradients and evosax 0.3.2 SV_CMA_ES, each at 256 policy
evaluations per generation (16 particles x 16 offspring; CMA-ES 1 x 256), the same MLP policy
(hidden 16, observation normalisation), one seed, through the project's training program
(`policysearch.runner.make_runner`: one compiled lax.scan over the generations). Reports the
time per generation after compilation (median of repeats) and the compile time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # multi-threaded CPU eigh collapses on small shared CPUs

import argparse
import json
import statistics
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402
from policysearch import strategies  # noqa: E402
from policysearch.density.runner import EvosaxSVCMAES  # noqa: E402
from policysearch.policy import MLPPolicy  # noqa: E402
from policysearch.runner import make_runner  # noqa: E402

METHODS = ("sv_cma_es", "cma_es", "svgd_es", "evosax_sv_cma_es")


def build(method: str, dim: int, generations: int):
    if method == "sv_cma_es":
        s = strategies.make("sv_cma_es", 16, 16, dim)
        return s, s.default_params.replace(sigma_init=0.5, num_generations=float(generations))
    if method == "cma_es":
        s = strategies.make("cma_es", 1, 256, dim)
        return s, s.default_params.replace(sigma_init=0.5)
    if method == "svgd_es":
        s = strategies.make("svgd", 16, 16, dim, source="es", fitness_shaping="centered_ranks")
        return s, s.default_params.replace(sigma=0.5)
    if method == "evosax_sv_cma_es":
        s = EvosaxSVCMAES(16, 16, dim)
        return s, s.default_params.replace(std_init=0.5)
    raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")


def time_method(env, policy, method, generations, repeats):
    strategy, params = build(method, policy.num_params, generations)
    runner = make_runner(env, policy, strategy, params, num_episodes=1, chunk_size=generations,
                         solve_threshold=1e9, validation_episodes=1)
    carry = runner.init(jnp.arange(1, dtype=jnp.int32))
    t = time.perf_counter()
    out = runner.run_chunk(carry, jnp.int32(0), jnp.int32(generations))
    jax.block_until_ready(out)
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(runner.run_chunk(carry, jnp.int32(0), jnp.int32(generations)))
        times.append((time.perf_counter() - t) / generations)
    per_gen = statistics.median(times)
    return {"method": method, "per_generation_s": per_gen, "compile_s": first - per_gen * generations,
            "dim": policy.num_params}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--envs", nargs="+", default=["halfcheetah", "hopper", "walker2d"])
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--generations", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--episode-length", type=int, default=100)
    p.add_argument("--backend", default="spring")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    device = f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind}"
    rows = []
    for name in args.envs:
        env = envs.make(name, backend=args.backend, episode_length=args.episode_length)
        policy = MLPPolicy.for_env(env, hidden_sizes=(16,), normalize_observations=True)
        for method in args.methods:
            r = time_method(env, policy, method, args.generations, args.repeats)
            r.update(env=name, backend=args.backend, episode_length=args.episode_length, device=device,
                     evaluations_per_generation=256,
                     env_steps_per_s=256 * args.episode_length / r["per_generation_s"])
            rows.append(r)
            print(f"{name:12s} {method:18s} {r['per_generation_s'] * 1e3:9.1f} ms/gen  "
                  f"{r['env_steps_per_s'] / 1e3:9.1f} k steps/s  compile {r['compile_s']:5.1f} s  "
                  f"(d={r['dim']})", flush=True)
    print("\n| env | " + " | ".join(args.methods) + " |")
    print("|---|" + "---|" * len(args.methods))
    for name in args.envs:
        cells = [f"{r['per_generation_s'] * 1e3:.1f} ms" for m in args.methods for r in rows
                 if r["env"] == name and r["method"] == m]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"device": device, "args": vars(args), "rows": rows}, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
