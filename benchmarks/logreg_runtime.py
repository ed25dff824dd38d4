"""Runtime of the samplers on Bayesian logistic regression with the shapes of the slides' data
sets, German credit (1000 x 24) and covtype (581,012 x 54), on SYNTHETIC data.

    python benchmarks/logreg_runtime.py [--datasets credit covtype] [--covtype-generations 2]

Neither data set ships with an installed package (policysearch/density/logreg.py reads the real
files with ``path=...``); the runtime depends on the data's shape only, so this script draws
``X ~ N(0, 1)`` of the same shape, labels from a logistic model with random weights, and
standardises + adds the intercept column as the real loader does (25 and 55 weights). The
labels are synthetic: the posteriors are not the real data sets'; only the timings transfer.

Every method runs the density runner's compiled program (``policysearch.density.runner.run_method``,
the same as experiments/density_sampling.py) on one seed with 32 particles x 8 offspring.
Reported: milliseconds per 1000 function evaluations after compilation (a gradient evaluation of
SVGD counts as one, as in the density experiment), the projected time of the slides' budget of
38,400 evaluations, and the compile time. credit runs the full budget; covtype runs
``--covtype-generations`` generations (each evaluation is a pass over 581,012 rows) and projects.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {"credit": (1000, 24), "covtype": (581_012, 54)}
METHODS = ("sv_cma_es", "mp_cma_es", "evosax_sv_cma_es", "svgd", "svgd_es")
BUDGET = 38_400  # 32 particles x 8 offspring x 150 generations (experiments/density_sampling.py)


def synthetic_target(name, seed=0):
    import numpy as np

    from policysearch.density.logreg import BayesianLogisticRegression, standardise

    n, d = SHAPES[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    w = rng.standard_normal(d) / np.sqrt(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(x @ w)))).astype(np.float32)
    return BayesianLogisticRegression(standardise(x), y, name=f"logreg_{name}", dataset=f"{name} (synthetic)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--covtype-generations", type=int, default=2)
    p.add_argument("--out", default=os.path.join(ROOT, "experiments_out", "logreg_runtime.json"))
    a = p.parse_args(argv)
    if a.covtype_generations < 1:
        raise SystemExit(f"error: --covtype-generations={a.covtype_generations} is invalid: must be >= 1")
    from policysearch import compile_cache

    compile_cache.enable()
    from policysearch.density.runner import make_method, run_method

    gradient_step = ("svgd",)  # rho evaluations per step (experiments/density_sampling.py)

    rho, m = 32, 8
    rows = []
    for ds in a.datasets:
        target = synthetic_target(ds)
        gens = BUDGET // (rho * m) if ds == "credit" else a.covtype_generations
        for name in a.methods:
            steps = gens * m if name in gradient_step else gens
            meth = make_method(name, target, rho, m, steps)
            res = run_method(meth, target, [0], steps, steps)
            evals = steps * meth.evals_per_generation
            ms_per_k = 1e3 * res.seconds / evals * 1000
            rows.append({"dataset": ds, "shape": SHAPES[ds], "dim": target.dim, "method": name,
                         "evaluations_timed": evals, "seconds": res.seconds,
                         "ms_per_1000_evals": ms_per_k, "projected_s_for_38400": ms_per_k * BUDGET / 1e6,
                         "compile_s": res.compile_seconds})
            print(f"{ds} {name}: {evals} evaluations in {res.seconds:.2f} s ({ms_per_k:.1f} ms / 1000), "
                  f"projected {ms_per_k * BUDGET / 1e6:.2f} s for {BUDGET}; compile {res.compile_seconds:.1f} s",
                  flush=True)
            os.makedirs(os.path.dirname(a.out), exist_ok=True)
            with open(a.out, "w") as f:
                json.dump(rows, f, indent=2)
    lines = ["| data (synthetic, shape-matched) | d | method | evaluations timed | ms / 1000 evals | "
             f"projected s for {BUDGET} | compile s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} {r['shape'][0]} x {r['shape'][1]} | {r['dim']} | {r['method']} | "
                     f"{r['evaluations_timed']} | {r['ms_per_1000_evals']:.1f} | {r['projected_s_for_38400']:.2f} | "
                     f"{r['compile_s']:.1f} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
