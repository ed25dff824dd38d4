"""Env-steps/s of our population evaluation vs the raw Brax limit, same env/backend/batch.

    python benchmarks/brax_throughput.py --env hopper --backend spring --batch 64 --steps 100

(a) ``policy``: ``policysearch.rollout.make_population_evaluator`` (the project's one rollout
    path) with an ``MLPPolicy`` (observation normalisation on, as recommended for Brax), jitted,
    a population of ``--batch`` policies, 1 episode of ``--steps`` steps each;
(b) ``raw``: ``jit(vmap(scan(brax_env.step)))`` on the raw Brax env (no adapter, no wrappers)
    with uniform random actions in [-1, 1], ``--batch`` envs, ``--steps`` steps;
(c) ``adapter`` (with ``--adapter``): the same raw loop through our ``envs`` adapter.

Steps/s counts every scanned step (batch * steps): both loops run the full length, after
termination too (no auto-reset).  Each variant is compiled and run once
first; then the variants take turns ``--repeats`` times (fresh keys, ``block_until_ready``) and
the median per variant is reported.  Runs unchanged on CPU and GPU (``jax.devices()[0]``).
``--compile-cache`` turns on the project's persistent compilation cache (faster re-runs; the
reported first-call times then include no compilation).  The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402
from envs.brax_adapter import BACKENDS  # noqa: E402
from policysearch.policy import MLPPolicy, ObsNormState  # noqa: E402
from policysearch.rollout import make_population_evaluator  # noqa: E402


def compile_all(variants):
    """Compile and run each variant once; {name: seconds of that first call}."""
    first = {}
    for name, (fn, make_args) in variants.items():
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*make_args(0)))
        first[name] = time.perf_counter() - t0
    return first


def time_interleaved(variants, repeats):
    """({name: [wall s per call]}, {name: [process CPU s per call]}); the variants take turns
    so that changes in machine load hit all of them alike."""
    wall = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    for i in range(repeats):
        for name, (fn, make_args) in variants.items():
            args = jax.block_until_ready(make_args(i + 1))
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn(*args))
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return wall, cpu


def raw_loop(reset, step, action_size, steps, batch):
    """jit(vmap(scan(step))) with uniform random actions in [-1, 1]; returns summed rewards."""

    def one(key):
        k_reset, k_act = jax.random.split(key)
        state = reset(k_reset)
        actions = jax.random.uniform(k_act, (steps, action_size), jnp.float32, -1.0, 1.0)

        def body(carry, a):
            state, total = carry
            state, reward = step(state, a)
            return (state, total + reward), None

        return jax.lax.scan(body, (state, jnp.float32(0.0)), actions)[0][1]

    return jax.jit(lambda key: jax.vmap(one)(jax.random.split(key, batch)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="hopper")
    ap.add_argument("--backend", default="spring", choices=BACKENDS)
    ap.add_argument("--batch", type=int, default=64, help="population size = number of envs")
    ap.add_argument("--steps", type=int, default=100, help="episode length = scan length")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--hidden", type=int, nargs="*", default=[16], help="policy hidden sizes")
    ap.add_argument("--no-normalize", action="store_true", help="policy without obs normalisation")
    ap.add_argument("--adapter", action="store_true", help="also time the raw loop through our adapter")
    ap.add_argument("--compile-cache", action="store_true",
                    help="use the persistent JAX compilation cache (policysearch.compile_cache)")
    args = ap.parse_args(argv)
    if min(args.batch, args.steps, args.repeats) < 1:
        ap.error("--batch, --steps and --repeats must be >= 1")

    if args.compile_cache:
        from policysearch import compile_cache

        compile_cache.enable()
    env = envs.make(args.env, backend=args.backend, episode_length=args.steps)
    policy = MLPPolicy.for_env(env, hidden_sizes=tuple(args.hidden),
                               normalize_observations=not args.no_normalize)
    n_steps = args.batch * args.steps
    device = jax.devices()[0]
    print(f"{env!r} obs={env.observation_size} act={env.action_size} policy params="
          f"{policy.num_params} batch={args.batch} steps={args.steps} device={device.platform}:"
          f"{device.device_kind}", flush=True)

    key = jax.random.PRNGKey(0)
    keys = lambda i: (jax.random.fold_in(key, i),)  # noqa: E731
    variants = {}

    # (b) raw Brax limit
    benv = env.brax_env

    def brax_step(s, a):
        s = benv.step(s, a)
        return s, s.reward

    raw = raw_loop(benv.reset, brax_step, env.action_size, args.steps, args.batch)
    variants["raw"] = (raw, keys)

    # (c) the same loop through our adapter
    if args.adapter:
        def adapter_step(s, a):
            _, s, r, _, _ = env.step(s, a)
            return s, r

        adapter = raw_loop(lambda k: env.reset(k)[1], adapter_step, env.action_size, args.steps,
                           args.batch)
        variants["adapter"] = (adapter, keys)

    # (a) our population evaluation
    evaluate = jax.jit(make_population_evaluator(env, policy, num_episodes=1))
    d = policy.num_params
    stats = ObsNormState.create(env.observation_size).update(
        jnp.zeros(env.observation_size), jnp.ones(env.observation_size), jnp.float32(1.0))

    def pop_args(i):
        k = jax.random.fold_in(key, 1000 + i)
        flat = 0.5 * jax.random.normal(jax.random.fold_in(k, 1), (args.batch, d), jnp.float32)
        return flat, k, stats

    variants["policy"] = (evaluate, pop_args)
    first = compile_all(variants)
    times, cpu_times = time_interleaved(variants, args.repeats)
    on_cpu = device.platform == "cpu"

    summary = {"env": args.env, "backend": args.backend, "batch": args.batch,
               "steps": args.steps, "repeats": args.repeats, "hidden": args.hidden,
               "normalize_observations": policy.normalize_observations,
               "device": f"{device.platform}:{device.device_kind}"}
    for name in variants:
        med = statistics.median(times[name])
        summary[f"{name}_steps_per_s"] = round(n_steps / med, 1)
        summary[f"{name}_median_s"] = round(med, 5)
        summary[f"{name}_compile_s"] = round(first[name], 2)
        line = (f"{name:8s} {n_steps / med:12.0f} steps/s  median {med * 1e3:9.2f} ms  "
                f"(first call incl. compile {first[name]:6.1f} s)")
        if on_cpu:  # steps per CPU-second of this process: less sensitive to other processes
            cmed = statistics.median(cpu_times[name])
            summary[f"{name}_steps_per_cpu_s"] = round(n_steps / cmed, 1)
            line += f"  {n_steps / cmed:10.0f} steps/cpu-s"
        print(line, flush=True)
    summary["ratio_policy_over_raw"] = round(summary["policy_steps_per_s"] / summary["raw_steps_per_s"], 3)
    print(f"ratio policy/raw = {summary['ratio_policy_over_raw']:.3f} (goal >= 0.9)")
    if on_cpu:
        summary["ratio_policy_over_raw_cpu_time"] = round(
            summary["policy_steps_per_cpu_s"] / summary["raw_steps_per_cpu_s"], 3)
        print(f"ratio policy/raw by CPU time = {summary['ratio_policy_over_raw_cpu_time']:.3f}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
