"""GENNES's search distribution over generations in 2-D (the paper's Figure 2, qualitatively).

One generator (N = 40 offspring per generation, as the paper's illustration), library defaults
otherwise (Adam 1e-4, a0 = 2, annealing 0.99, init_spread 1, started at the domain's centre), on
Rosenbrock (unimodal, curved valley; defined here on [-2, 2]^2, minimum at (1, 1)) and on the
registry's Rastrigin ([-3, 3]^2, optimum translated by the target's seed-0 shift). Every panel
shows 300 draws of the generator at the current noise scale (orange) over the function's
contours (log scale, white = low) and the optimum (blue star).

    python experiments/gennes_search_distribution.py [--out docs/figures/gennes/search_distribution.png]
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from policysearch.cli import ArgumentParser
from policysearch.density import make_target
from policysearch.strategies import GENNES

SNAPSHOTS = (0, 100, 300, 1000, 3000)


def rosenbrock(x, t=None):
    del t
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def run(fun, translation, lo, hi, seed=0, pop=40, draws=300):
    """Samples of the generator [len(SNAPSHOTS), draws, 2] after each snapshot's generations."""
    s = GENNES(num_particles=1, pop_size=pop, dim=2)
    params = s.default_params.replace(lower=lo, upper=hi)
    evaluate = jax.vmap(jax.vmap(jax.value_and_grad(fun), (0, None)), (0, None))

    @jax.jit
    def program(key):
        state = s.init(key, jnp.full((1, 2), (lo + hi) / 2), params)

        def gen(st, k):
            x, st = s.ask(k, st)
            f, g = evaluate(x, translation)
            return s.tell(x, f, st, gradients=g), None

        out, prev = [], 0
        for i, g in enumerate(SNAPSHOTS):
            if g > prev:
                state, _ = jax.lax.scan(gen, state, jax.random.split(jax.random.fold_in(key, i), g - prev))
            out.append(s.sample(jax.random.fold_in(key, 100 + i), state, draws)[0])
            prev = g
        return jnp.stack(out), state.best_fitness

    return program(jax.random.key(seed))


def main(argv=None):
    ap = ArgumentParser(prog="experiments/gennes_search_distribution.py", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/figures/gennes/search_distribution.png")
    a = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rastrigin = make_target("rastrigin", dim=2)
    problems = [("Rosenbrock", rosenbrock, jnp.zeros(2), -2.0, 2.0, (1.0, 1.0)),
                ("Rastrigin", rastrigin.value, rastrigin.translation, -3.0, 3.0,
                 tuple(np.asarray(rastrigin.optimum())))]
    fig, axes = plt.subplots(len(problems), len(SNAPSHOTS), figsize=(2.4 * len(SNAPSHOTS), 2.5 * len(problems)))
    for row, (name, fun, t, lo, hi, opt) in zip(axes, problems):
        samples, best = run(fun, t, lo, hi)
        g = np.linspace(lo, hi, 200)
        xx, yy = np.meshgrid(g, g)
        zz = np.asarray(jax.vmap(lambda p: fun(p, t))(jnp.stack([xx.ravel(), yy.ravel()], 1))).reshape(xx.shape)
        for ax, gen, pts in zip(row, SNAPSHOTS, np.asarray(samples)):
            ax.contourf(xx, yy, np.log1p(zz), levels=20, cmap="Greys")
            ax.scatter([opt[0]], [opt[1]], marker="*", s=90, facecolors="none", edgecolors="C0", zorder=2)
            ax.scatter(pts[:, 0], pts[:, 1], s=3, color="C1", zorder=3)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name}, gen {gen}", fontsize=8)
        print(f"{name}: best f after {SNAPSHOTS[-1]} generations = {float(best):.3g}")
    fig.tight_layout()
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    fig.savefig(a.out, dpi=80)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
