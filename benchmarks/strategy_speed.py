"""Time per generation: our SV-CMA-ES vs evosax 0.3.2 SV_CMA_ES, both inside one lax.scan.

Same (particles, pop_size, dim), same objective (a shifted sphere, negligible cost), same
number of generations, compiled ahead of time (compile time excluded), best of ``--reps``
executions. Prints ours/evosax ratios measured in the same run, plus XLA's memory analysis
(arguments + outputs + temporaries of the compiled scan) per particle.

    python benchmarks/strategy_speed.py                          # all cases
    python benchmarks/strategy_speed.py --cases 16,16,65 16,16,1000
    python benchmarks/strategy_speed.py --cases 8,16,4000,3 --reps 1       # 3 generations
    python benchmarks/strategy_speed.py --memory-only --cases 8,16,4000   # compile, no run

Variants timed for ours: the defaults (``eigen_interval="auto"``: pycma's lazy gap, staggered
over particles) and ``eigen_interval=1`` (every covariance every generation, evosax parity).
With a lazy interval k the cost of a window depends on where it falls in the k-cycle; the
window starts at generation 0, where particle i < k refreshes at generation i, so for k > rho
the first rho generations each pay one eigendecomposition and later ones none: a window of
G <= rho generations is the expensive end (reported as measured, not amortised).
"""

from __future__ import annotations

import os

# Multi-threaded OpenBLAS (behind jax's CPU eigh) on a small, shared CPU is pathological:
# measured here, one 65 x 65 eigh took ~40 ms with 2 threads under load vs ~0.8 ms with 1.
# Pin to 1 thread unless the caller chose (applies to both sides equally).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from policysearch.strategies import SVCMAES  # noqa: E402

DEFAULT_CASES = ((16, 16, 65), (16, 16, 1000), (8, 16, 4000))
DEFAULT_GENERATIONS = {65: 200, 1000: 8, 4000: 3}


def objective(x):
    return jnp.sum(jnp.square(x - 0.5), axis=-1)


def ours_program(rho, m, d, generations, eigen_interval):
    s = SVCMAES(num_particles=rho, pop_size=m, dim=d, eigen_interval=eigen_interval)
    params = s.default_params.replace(num_generations=float(generations))

    def run(key, x0):
        state = s.init(key, x0, params)

        def step(state, k):
            off, state = s.ask(k, state)
            state = s.tell(off, objective(off), state)
            return state, None

        state, _ = jax.lax.scan(step, state, jax.random.split(key, generations))
        return state.mean, state.sigma

    return run, s.eigen_interval_resolved


def evosax_program(rho, m, d, generations):
    from evosax.algorithms import SV_CMA_ES

    es = SV_CMA_ES(population_size=m, num_populations=rho, solution=jnp.zeros(d))
    ep = es.default_params

    def run(key, x0):
        state = es.init(key, x0, ep)

        def step(state, k):
            k1, k2 = jax.random.split(k)
            pop, state = es.ask(k1, state, ep)
            state, _ = es.tell(k2, pop, objective(pop), state, ep)
            return state, None

        state, _ = jax.lax.scan(step, state, jax.random.split(key, generations))
        return state.mean, state.std

    return run


def compile_program(fn, rho, d):
    key = jax.random.key(0)
    x0 = jax.random.normal(jax.random.key(1), (rho, d))
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(key, x0).compile()
    return compiled, (key, x0), time.perf_counter() - t0


def memory_bytes(compiled):
    ma = compiled.memory_analysis()
    if ma is None:
        return None
    return ma.argument_size_in_bytes + ma.output_size_in_bytes + ma.temp_size_in_bytes - ma.alias_size_in_bytes


def time_program(compiled, args, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="*", default=None, help="rho,m,d or rho,m,d,generations")
    ap.add_argument("--generations", type=int, default=None, help="generations per scan (default by dim)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--memory-only", action="store_true", help="compile and report memory, do not run")
    ap.add_argument("--skip-interval-1", action="store_true", help="do not time ours with eigen_interval=1")
    args = ap.parse_args()
    cases = DEFAULT_CASES if args.cases is None else tuple(tuple(int(v) for v in c.split(",")) for c in args.cases)
    cases = tuple(c if len(c) == 4 else (*c, args.generations or DEFAULT_GENERATIONS.get(c[2], 10)) for c in cases)
    dev = jax.devices()[0]
    print(f"# jax {jax.__version__}, device {dev.platform} ({dev.device_kind}); reps {args.reps}; compile excluded; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    print("| particles x pop x dim | generations | evosax s/gen | ours (auto k) s/gen | ratio | ours (k=1) s/gen | ratio k=1 "
          "| k (auto) | memory/particle evosax | ours (auto) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rho, m, d, G in cases:
        ev, ev_args, _ = compile_program(evosax_program(rho, m, d, G), rho, d)
        run_auto, k = ours_program(rho, m, d, G, "auto")
        oa, oa_args, _ = compile_program(run_auto, rho, d)
        mem_ev, mem_oa = memory_bytes(ev), memory_bytes(oa)
        fmt_mem = lambda b: "n/a" if b is None else f"{b / rho / 2**20:.1f} MiB"  # noqa: E731
        if args.memory_only:
            print(f"| {rho} x {m} x {d} | {G} | - | - | - | - | - | {k} | {fmt_mem(mem_ev)} | {fmt_mem(mem_oa)} |", flush=True)
            continue
        t_ev = time_program(ev, ev_args, args.reps) / G
        t_oa = time_program(oa, oa_args, args.reps) / G
        if args.skip_interval_1 or k == 1:
            t_o1, r1 = float("nan"), "-" if k != 1 else f"{t_oa / t_ev:.2f}"
            t_o1 = t_oa if k == 1 else t_o1
        else:
            run_1, _ = ours_program(rho, m, d, G, 1)
            o1, o1_args, _ = compile_program(run_1, rho, d)
            t_o1 = time_program(o1, o1_args, args.reps) / G
            r1 = f"{t_o1 / t_ev:.2f}"
        print(
            f"| {rho} x {m} x {d} | {G} | {t_ev:.3g} | {t_oa:.3g} | **{t_oa / t_ev:.2f}** | {t_o1:.3g} | {r1} | {k} "
            f"| {fmt_mem(mem_ev)} | {fmt_mem(mem_oa)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
