"""Time per generation: GENNES vs evosax 0.3.2 CMA_ES and SNES, folds vmapped, ratios in one run.

Every method runs the paper's protocol on Rastrigin (population 20 per generation, each fold with
its own translation of the optimum): ``--folds`` folds vmapped inside one ``lax.scan`` over
``--generations`` generations, compiled ahead of time (compile time reported separately), best
of ``--reps`` executions. GENNES evaluates f and grad f (one value_and_grad per offspring) and
back-propagates through its 5 x 128 generator; CMA_ES / SNES evaluate f only.

    python benchmarks/gennes_speed.py                       # d = 10 and 30, 10 folds
    python benchmarks/gennes_speed.py --dims 30 --folds 1 --generations 500
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # CMA-ES's eigh on a small shared CPU
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from policysearch.cli import ArgumentParser  # noqa: E402
from policysearch.density import make_target  # noqa: E402
from policysearch.strategies import GENNES  # noqa: E402

POP = 20


def gennes_program(target, folds, generations):
    s = GENNES(num_particles=1, pop_size=POP, dim=target.dim)
    params = s.default_params.replace(lower=float(target.lower[0]), upper=float(target.upper[0]))
    evaluate = jax.vmap(jax.vmap(jax.value_and_grad(target.value), (0, None)), (0, None))

    def fold(key, t):
        state = s.init(key, jnp.zeros((1, target.dim)), params)

        def gen(st, k):
            x, st = s.ask(k, st)
            f, g = evaluate(x, t)
            st = s.tell(x, f, st, gradients=g)
            return st, st.best_fitness

        return jax.lax.scan(gen, state, jax.random.split(key, generations))[1]

    return jax.jit(jax.vmap(fold))


def evosax_program(name, target, folds, generations):
    from evosax.algorithms import CMA_ES, SNES

    cls = {"CMA_ES": CMA_ES, "SNES": SNES}[name]
    es = cls(population_size=POP, solution=jnp.zeros(target.dim))
    params = es.default_params.replace(std_init=float(target.upper[0] - target.lower[0]) / 4)
    evaluate = jax.vmap(target.value, (0, None))

    def fold(key, t):
        k0, k1 = jax.random.split(key)
        mean = jax.random.uniform(k0, (target.dim,), minval=target.lower[0], maxval=target.upper[0])
        state = es.init(k1, mean, params)

        def gen(st, k):
            ka, kt = jax.random.split(k)
            x, st = es.ask(ka, st, params)
            f = evaluate(x, t)
            st, _ = es.tell(kt, x, f, st, params)
            return st, st.best_fitness

        return jax.lax.scan(gen, state, jax.random.split(key, generations))[1]

    return jax.jit(jax.vmap(fold))


def time_program(fn, args, reps):
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - t0)
    return compile_s, best, out


def main(argv=None):
    ap = ArgumentParser(prog="benchmarks/gennes_speed.py", description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[10, 30])
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--generations", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args(argv)
    for k in ("folds", "generations", "reps"):
        if getattr(a, k) < 1:
            ap.error(f"--{k}={getattr(a, k)} is invalid: must be >= 1")
    if min(a.dims) < 1:
        ap.error(f"--dims={a.dims} is invalid: every dimension must be >= 1")
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs; Rastrigin, "
          f"population {POP}, {a.folds} folds vmapped, {a.generations} generations, best of {a.reps}")
    print("| d | method | ms / generation (all folds) | vs CMA_ES | compile s | mean final regret |")
    print("|---|---|---|---|---|---|")
    for d in a.dims:
        target = make_target("rastrigin", dim=d)
        keys = jax.random.split(jax.random.key(0), a.folds)
        shifts = target.random_translations(jax.random.key(1), a.folds)
        rows = {}
        for name in ("CMA_ES", "SNES", "GENNES"):
            fn = gennes_program(target, a.folds, a.generations) if name == "GENNES" else \
                evosax_program(name, target, a.folds, a.generations)
            rows[name] = time_program(fn, (keys, shifts), a.reps)
        ref = rows["CMA_ES"][1]
        for name, (comp, best, out) in rows.items():
            print(f"| {d} | {name} | {1e3 * best / a.generations:.3f} | {best / ref:.2f}x | {comp:.1f} | "
                  f"{float(jnp.mean(out[:, -1])):.3g} |")


if __name__ == "__main__":
    main()
