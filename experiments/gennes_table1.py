"""GENNES Table 1: best-so-far regret at 1e2 / 1e3 / 1e4 / 1e5 evaluations, 10 folds per problem.

One command (from the repository root)::

    python experiments/gennes_table1.py            # full protocol: 5 functions x d = 10, 30 x 6 methods
    python experiments/gennes_table1.py --quick    # smoke run: rastrigin + ackley, d = 3, 2 folds, 1000 evaluations
    python experiments/gennes_table1.py --methods lbfgs          # one method only (e.g. a second process)
    python experiments/gennes_table1.py --shift 2 --out experiments_out/gennes_table1_shift2   # stress test
    python experiments/gennes_table1.py --methods gennes@0.99,gennes@budget --out experiments_out/gennes_anneal

Problems: Rastrigin, Ackley, Styblinski-Tang, Schwefel 2.26 (the paper's four) and Alpine1 at
d = 10 and 30 (policysearch.density.benchmarks: corrected formulas, f* = 0, the optimum translated
per fold by t ~ U(-shift, shift)^d, shift 0.5 as in the authors' code). Every method gets the same
folds (translations from ``policysearch.optimize.fold_inputs``) and 20 evaluations per generation;
a value + gradient at a point counts as one evaluation (the paper's rule). Methods:

* ``gennes``    the project's GENNES (policysearch.strategies.gennes): one generator, N = 20,
                generator started at the domain centre, Adam 1e-4, the optimize config's ``anneal:
                budget`` (a at 1 % of a0 when the budget ends; RESULTS.md's Table 1 ran 0.99, the
                authors' value and the default until 2026-12-02).
* ``lbfgs``     repeated L-BFGS-B (scipy; bounds = domain; restarts uniform in the domain until the
                budget is spent; float64 ``jax.value_and_grad``; nfev counted): experiments/gennes/lbfgs.py.
* ``snes``      evosax SNES, population 20, mean uniform in the domain, std = domain width / 4.
* ``acma_es``   evosax CMA_ES (negative recombination weights = active CMA), same settings.
* ``sv_cma_es`` the project's SV-CMA-ES, 4 particles x 5 offspring, sigma = width / 4 (extra column).
* ``svgd``      the project's SVGD with autodiff gradients, 20 particles, adagrad-momentum step
                0.1 x (domain half-width / 3) (extra column).
* ``gennes@<a>`` GENNES with ``strategy.anneal=<a>``: a number in (0, 1] or ``budget`` (a reaches
                1 % of a0 at the end of the budget); the annealing-sensitivity study.

All but ``lbfgs`` run through ``policysearch.optimize.run_folds``: the folds vmapped in one compiled
program per method / function / dimension, ``lax.scan`` over generations. evosax's algorithms enter
through :class:`EvosaxStrategy`, a thin adapter to the project's strategy protocol.

Regret: f(x) - f* = f(x) (f* = 0), best so far. The JAX methods evaluate in float32: regrets
below 1e-6 are reported as "<1e-6" (REFERENCE.md sec. 8); L-BFGS evaluates in float64 (exact
values). Outside the domain the benchmark functions are f(clip(x)) + ||x - clip(x)||^2 (so CMA-ES /
SNES offspring outside the box are penalised, and Schwefel's regret stays >= 0).

Outputs (``--out``, default experiments_out/gennes_table1[_quick]/): ``runs/<function>-<dim>/<method>.json``
(per-fold regret at the budgets and a log-spaced curve; reused when the command runs again with the
same settings, ``--force`` reruns), ``table1.md`` (the RESULTS.md table, measured next to the
paper's numbers), ``table1.json`` and ``table1_regret.png`` (copied to ``--figures``, default
docs/figures/gennes/; with --quick <out>/figures/).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: scipy / LAPACK calls stay fast
os.environ.setdefault("MPLBACKEND", "Agg")

import dataclasses  # noqa: E402
import datetime  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import struct  # noqa: E402

from policysearch.cli import ArgumentParser, fail  # noqa: E402

METHODS = ("gennes", "lbfgs", "snes", "acma_es", "sv_cma_es", "svgd")
LABELS = {"gennes": "GENNES", "lbfgs": "L-BFGS", "snes": "sNES", "acma_es": "aCMA-ES",
          "sv_cma_es": "SV-CMA-ES", "svgd": "SVGD (autodiff)"}
PAPER_METHODS = ("gennes", "lbfgs", "snes", "acma_es")
#: ``gennes@<anneal>``: GENNES with that annealing setting (a number or "budget")
VARIANT = "gennes@"
FUNCTIONS = ("rastrigin", "ackley", "styblinski", "schwefel", "alpine1")
TITLES = {"rastrigin": "Rastrigin", "ackley": "Ackley", "styblinski": "Styblinski", "schwefel": "Schwefel",
          "alpine1": "Alpine1"}
DIMS = (10, 30)
BUDGETS = (100, 1000, 10000, 100000)
EVALS_PER_GENERATION = 20
FLOAT32_FLOOR = 1e-6
QUICK = {"functions": ("rastrigin", "ackley"), "dims": (3,), "folds": 2, "evaluations": 1000}

# Table 1 of the paper (mean regret over 10 folds at 1e2 / 1e3 / 1e4 / 1e5 evaluations) as
# recovered in REFERENCE.md sec. 8; None = illegible. Uncertain entries are listed in UNCERTAIN.
PAPER = {
    ("rastrigin", 10): {"gennes": (71.3, 41.3, 4.1, 3.9), "lbfgs": (24.3, 13.3, 6.9, 5.4),
                        "snes": (107.2, 48.1, 4.3, 4.2), "acma_es": (100.9, 40.3, 6.1, 6.0)},
    ("rastrigin", 30): {"gennes": (279.0, 212.1, 72.3, 19.0), "lbfgs": (90.4, 74.5, 60.7, 41.2),
                        "snes": (333.5, 242.4, 40.3, 20.8), "acma_es": (100.9, 233.2, 37.0, 37.0)},
    ("ackley", 10): {"gennes": (7.9, 2.5, 0.007, 0.005), "lbfgs": (11.9, 8.3, 5.1, 3.2),
                     "snes": (11.4, 1.6, 1e-7, 5e-10), "acma_es": (10.7, 0.2, 2e-11, 1e-14)},
    ("ackley", 30): {"gennes": (9.4, 5.4, 0.007, 0.006), "lbfgs": (12.9, 11.6, 9.0, 7.2),
                     "snes": (18.7, 10.5, 9e-5, 2e-8), "acma_es": (18.6, 5.9, 2e-9, 1e-14)},
    ("styblinski", 10): {"gennes": (206.1, 111.1, 7.8, 5.2), "lbfgs": (35.3, 24.0, 9.9, 5.6),
                         "snes": (888.6, 39.3, 11.3, 11.1), "acma_es": (657.6, 28.9, 24.1, 23.9)},
    ("styblinski", 30): {"gennes": (2371.3, 587.7, 97.2, 21.1), "lbfgs": (169.0, 113.1, 98.2, 67.8),
                         "snes": (19022.0, 647.3, 70.6, 68.9), "acma_es": (14213.3, 488.2, None, 85.4)},
    ("schwefel", 10): {"gennes": (3011.9, 2186.3, 595.8, 533.6), "lbfgs": (1463.2, 989.3, 718.5, 542.8),
                       "snes": (3087.1, 2587.7, 685.3, 685.3), "acma_es": (3042.3, 2301.8, 1749.1, 1739.2)},
    ("schwefel", 30): {"gennes": (10100.6, 8382.0, 1235.4, 943.8), "lbfgs": (5021.4, 4941.0, 3842.6, 3331.7),
                       "snes": (20807.6, 10253.0, 2447.8, 2429.4), "acma_es": (13000.4, 10021.0, 5661.7, 5658.7)},
}
#: (function, dim, method, budget index) of the entries REFERENCE.md marks as uncertain
UNCERTAIN = {("rastrigin", 30, "acma_es", 0)} | {("schwefel", 30, m, 1) for m in PAPER_METHODS}


# ----------------------------------------------------------------------------- evosax adapter
@struct.dataclass
class EvosaxState:
    """evosax state + params, with the best-so-far fields the project's run loop reads."""

    es_state: Any
    params: Any

    @property
    def best_fitness(self):
        return self.es_state.best_fitness

    @property
    def best_solution(self):
        return self.es_state.best_solution


@dataclasses.dataclass(frozen=True)
class EvosaxStrategy:
    """An evosax distribution-based algorithm (``CMA_ES``, ``SNES``) on the project's strategy
    protocol (one population: ``num_particles`` = 1), so ``optimize.run_folds`` can run it.
    ``std_init`` is the only non-default setting (the paper's "std covering the domain")."""

    algorithm: str
    pop_size: int
    dim: int
    num_particles: int = 1

    @functools.cached_property
    def es(self):
        from evosax.algorithms import CMA_ES, SNES

        cls = {"CMA_ES": CMA_ES, "SNES": SNES}[self.algorithm]
        return cls(population_size=self.pop_size, solution=jnp.zeros(self.dim))

    @property
    def default_params(self):
        return self.es.default_params

    def init(self, key, x0, params):
        return EvosaxState(self.es.init(key, x0[0], params), params)

    def ask(self, key, state):
        x, es_state = self.es.ask(key, state.es_state, state.params)
        return x[None], state.replace(es_state=es_state)

    def tell(self, offspring, fitness, state):
        fitness = jnp.where(jnp.isnan(fitness[0]), jnp.inf, fitness[0])
        es_state, _ = self.es.tell(jax.random.key(0), offspring[0], fitness, state.es_state, state.params)
        return state.replace(es_state=es_state)

    def means(self, state):
        return state.es_state.mean[None]


def base_method(method: str) -> str:
    """The method a variant belongs to ("gennes@0.999" -> "gennes")."""
    return "gennes" if method.startswith(VARIANT) else method


def label(method: str) -> str:
    return f"GENNES (anneal {method[len(VARIANT):]})" if method.startswith(VARIANT) else LABELS[method]


# ----------------------------------------------------------------------------- runs
def compose(overrides):
    """The optimize CLI's config (configs/optimize.yaml) with the given overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from policysearch.cli import CONFIG_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return hydra_compose(config_name="optimize", overrides=list(overrides))


def method_overrides(method: str, function: str) -> list[str]:
    """The optimize-config overrides of a method that runs through the project's strategies."""
    if method == "gennes":
        return ["strategy=gennes"]
    if method.startswith(VARIANT):
        return ["strategy=gennes", f"strategy.anneal={method[len(VARIANT):]}"]
    if method == "sv_cma_es":
        return ["strategy=sv_cma_es"]
    if method == "svgd":
        from policysearch.density.benchmarks import BenchmarkFunction

        lr = 0.1 * BenchmarkFunction(function, dim=1, shift=0.0).halfwidth / 3.0
        return ["strategy=svgd", "strategy.source=autodiff", f"strategy.learning_rate={lr:g}"]
    if method in ("acma_es", "snes", "lbfgs"):
        return ["strategy=cma_es"]  # only the problem's target / folds / budget are used
    raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")


def build_problem(method: str, function: str, dim: int, folds: int, evaluations: int, shift: float, seed: int):
    """``policysearch.optimize.Problem`` of one method on one problem (no compilation)."""
    from policysearch import optimize

    overrides = [f"function={function}", f"dim={dim}", f"folds={folds}", f"evaluations={evaluations}",
                 f"shift={shift}", f"seed={seed}", "progress=false", "figures=false", "progress_updates=10",
                 *method_overrides(method, function)]
    problem = optimize.build(compose(overrides), overrides)
    if method in ("acma_es", "snes"):
        strategy = EvosaxStrategy({"acma_es": "CMA_ES", "snes": "SNES"}[method], EVALS_PER_GENERATION, dim)
        width = float(problem.target.upper[0] - problem.target.lower[0])
        params = strategy.default_params.replace(std_init=width / 4.0)
        problem = dataclasses.replace(problem, strategy=strategy, params=params, strategy_name=method,
                                      init="uniform", settings={"std_init": width / 4.0, "population": 20})
    if problem.evals_per_generation != EVALS_PER_GENERATION:
        raise RuntimeError(f"{method}: {problem.evals_per_generation} evaluations per generation, expected 20")
    return problem


def run_jax(method, function, dim, folds, evaluations, shift, seed) -> dict:
    """Best-so-far regret [folds, evaluations // 20] of a strategy method (folds vmapped)."""
    from policysearch import optimize

    problem = build_problem(method, function, dim, folds, evaluations, shift, seed)
    res = optimize.run_folds(problem, list(range(folds)))
    evals = (np.arange(res["best"].shape[1]) + 1) * problem.evals_per_generation
    return {"best": np.asarray(res["best"], np.float64), "evaluations": evals, "seconds": res["seconds"],
            "settings": problem.settings, "init": problem.init}


def run_lbfgs(function, dim, folds, evaluations, shift, seed) -> dict:
    """Repeated L-BFGS-B (scipy, float64 jax value_and_grad) per fold on the same translations."""
    from experiments.gennes import lbfgs
    from policysearch import optimize

    problem = build_problem("lbfgs", function, dim, folds, evaluations, shift, seed)
    _, shifts = optimize.fold_inputs(problem, range(folds))
    target = problem.target
    t0 = time.perf_counter()
    best, runs = [], []
    with jax.enable_x64(True):
        vg = jax.jit(jax.value_and_grad(target.value))
        for i in range(folds):
            t = jnp.asarray(np.asarray(shifts[i]), jnp.float64)
            fun = lambda x, t=t: vg(jnp.asarray(x), t)  # noqa: E731
            res = lbfgs.budgeted(lambda x: tuple(map(np.asarray, fun(x))), target.lower, target.upper,
                                 evaluations, np.random.default_rng([seed, i]))
            best.append(res["best"])
            runs.append(res["runs"])
    return {"best": np.stack(best), "evaluations": np.arange(1, evaluations + 1),
            "seconds": time.perf_counter() - t0, "settings": {"restarts_per_fold": runs}, "init": "uniform"}


def curve_points(evaluations: int, points: int = 150) -> np.ndarray:
    return np.unique(np.round(np.logspace(math.log10(EVALS_PER_GENERATION), math.log10(evaluations), points))
                     .astype(int))


def record(method, function, dim, folds, evaluations, shift, seed, raw) -> dict:
    """The JSON record of one run: per-fold regret at the budgets and on a log-spaced curve."""
    best, ev = raw["best"], raw["evaluations"]

    def at(e):  # best-so-far after the last completed generation within e evaluations
        j = np.searchsorted(ev, e, side="right") - 1
        return best[:, j] if j >= 0 else np.full(best.shape[0], np.nan)

    pts = [int(e) for e in curve_points(evaluations) if e >= ev[0]]
    return {"method": method, "function": function, "dim": dim, "folds": folds, "evaluations": evaluations,
            "shift": shift, "seed": seed, "seconds": round(raw["seconds"], 2), "init": raw["init"],
            "settings": raw["settings"], "float64": method == "lbfgs",
            "regret_at": {str(b): at(b).tolist() for b in BUDGETS if b <= evaluations},
            "curve": {"evaluations": pts, "per_fold": np.stack([at(e) for e in pts], 1).tolist()}}


def budget_of(method: str, args) -> int:
    return args.lbfgs_evaluations if method == "lbfgs" else args.evaluations


def same_settings(rec: dict, method, function, dim, args) -> bool:
    """A saved strategy run used the strategy config of now (a changed default reruns it)."""
    if method == "lbfgs":   # its settings are outputs (restarts per fold)
        return True
    problem = build_problem(method, function, dim, args.folds, args.evaluations, args.shift, args.seed)
    return rec.get("settings") == json.loads(json.dumps(problem.settings))


def run_one(method, function, dim, args, path) -> tuple[dict, bool]:
    evaluations = budget_of(method, args)
    key = {"method": method, "function": function, "dim": dim, "folds": args.folds,
           "evaluations": evaluations, "shift": args.shift, "seed": args.seed}
    if os.path.exists(path) and not args.force:
        with open(path) as f:
            rec = json.load(f)
        if all(rec.get(k) == v for k, v in key.items()) and same_settings(rec, method, function, dim, args):
            return rec, True
    if method == "lbfgs":
        raw = run_lbfgs(function, dim, args.folds, evaluations, args.shift, args.seed)
    else:
        raw = run_jax(method, function, dim, args.folds, evaluations, args.shift, args.seed)
    rec = record(method, function, dim, args.folds, evaluations, args.shift, args.seed, raw)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(rec, f)
    os.replace(path + ".tmp", path)
    return rec, False


# ----------------------------------------------------------------------------- table and figure
def fmt(v: float | None, float64: bool = True) -> str:
    if v is None or not np.isfinite(v):
        return "-"
    if not float64 and v <= FLOAT32_FLOOR * (1 + 1e-9):
        return "<1e-6"
    if v == 0:
        return "0"
    if v < 0.01:
        return f"{v:.0e}".replace("e-0", "e-")
    if v < 100:
        return f"{v:.3g}" if v < 1 else f"{v:.1f}"
    return f"{v:.0f}"


def mean_regret(rec: dict, b: int) -> float | None:
    v = rec["regret_at"].get(str(b))
    if v is None:
        return None
    v = np.asarray(v, np.float64)
    if not rec.get("float64"):
        v = np.maximum(v, FLOAT32_FLOOR)  # float32 runs: the floor (what "<1e-6" means)
    return float(np.mean(v))


def markdown(records: dict, methods, functions, dims, budgets, args, date, figure_rel, wall) -> str:
    lines = [f"Mean best-so-far regret over {args.folds} folds (translation U(-{args.shift:g}, {args.shift:g})^d), "
             "measured (paper) where the paper has the number; **bold** = best measured in the column. "
             "JAX methods run in float32 (\"<1e-6\": below the float32 floor), L-BFGS in float64.", "",
             "| problem | method | " + " | ".join(f"{b:.0e}".replace("+0", "") for b in budgets) + " |",
             "|---|---|" + "---|" * len(budgets)]
    for fn in functions:
        for d in dims:
            recs = {m: records.get((fn, d, m)) for m in methods}
            means = {m: [mean_regret(r, b) if r else None for b in budgets] for m, r in recs.items()}
            best = [min((means[m][j] for m in methods if means[m][j] is not None), default=None)
                    for j in range(len(budgets))]
            paper = PAPER.get((fn, d), {})
            for m in methods:
                cells = []
                for j, b in enumerate(budgets):
                    v = means[m][j]
                    s = fmt(v, recs[m]["float64"] if recs[m] else True)
                    if v is not None and best[j] is not None and v <= best[j] * (1 + 1e-9):
                        s = f"**{s}**"
                    p = paper.get(base_method(m))
                    if p is not None and j < len(p):
                        q = "-" if p[BUDGETS.index(b)] is None else fmt(p[BUDGETS.index(b)])
                        s += f" ({q}{'?' if (fn, d, m, BUDGETS.index(b)) in UNCERTAIN else ''})"
                    cells.append(s)
                lines.append(f"| {TITLES[fn]}-{d} | {label(m)} | " + " | ".join(cells) + " |")
    ranks = mean_ranks(records, methods, functions, dims, budgets)
    if len(methods) > 1:
        n = sum(all((fn, d, m) in records for m in methods) for fn in functions for d in dims)
        lines += ["", f"Mean rank of each method over the {n} problems that every method ran (1 = best; ties "
                  "share the mean rank):", "",
                  "| method | " + " | ".join(f"{b:.0e}".replace("+0", "") for b in budgets) + " |",
                  "|---|" + "---|" * len(budgets)]
        lines += [f"| {label(m)} | " + " | ".join("-" if r is None else f"{r:.2f}" for r in ranks[m]) + " |"
                  for m in methods]
    lines += ["", f"Wall time of this invocation: {wall / 60:.1f} min (finished runs reused). Date: {date}."]
    if figure_rel:
        lines += ["", f"![regret vs evaluations]({figure_rel})"]
    return "\n".join(lines) + "\n"


def mean_ranks(records: dict, methods, functions, dims, budgets) -> dict:
    """Per method, its mean rank by mean regret at each budget over the problems every method ran
    (ties share the mean rank; None: no such problem)."""
    from scipy.stats import rankdata

    out = {m: [] for m in methods}
    for b in budgets:
        rows = []
        for fn in functions:
            for d in dims:
                vals = [mean_regret(records[(fn, d, m)], b) if (fn, d, m) in records else None for m in methods]
                if all(v is not None for v in vals):
                    rows.append(rankdata(vals))
        for j, m in enumerate(methods):
            out[m].append(float(np.mean([r[j] for r in rows])) if rows else None)
    return out


def claims(records: dict, functions, dims) -> list[dict]:
    """Who is best among the paper's four methods at each budget (the claims' raw material)."""
    out = []
    for fn in functions:
        for d in dims:
            row = {"function": fn, "dim": d}
            for b in BUDGETS:
                vals = {m: mean_regret(records[(fn, d, m)], b) for m in PAPER_METHODS
                        if (fn, d, m) in records and mean_regret(records[(fn, d, m)], b) is not None}
                if vals:
                    row[str(b)] = {"best": min(vals, key=vals.get), "gennes_rank": sorted(vals, key=vals.get)
                                   .index("gennes") + 1 if "gennes" in vals else None}
            out.append(row)
    return out


def figure(records: dict, methods, functions, dims, path: str) -> None:
    import matplotlib.pyplot as plt

    from policysearch.density.plotting import save
    from policysearch.optimize import REGRET_FLOOR

    fig, axes = plt.subplots(len(dims), len(functions), figsize=(3.2 * len(functions), 2.7 * len(dims)),
                             squeeze=False)
    for i, d in enumerate(dims):
        for j, fn in enumerate(functions):
            ax = axes[i, j]
            for k, m in enumerate(methods):
                rec = records.get((fn, d, m))
                if rec is None:
                    continue
                per_fold = np.asarray(rec["curve"]["per_fold"], np.float64)
                floor = REGRET_FLOOR if rec.get("float64") else FLOAT32_FLOOR
                ax.plot(rec["curve"]["evaluations"], np.maximum(per_fold, floor).mean(0), color=f"C{k}",
                        lw=1.6, label=label(m))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{TITLES[fn]} d={d}", fontsize=9)
            ax.tick_params(labelsize=7)
            if i == len(dims) - 1:
                ax.set_xlabel("evaluations", fontsize=8)
            if j == 0:
                ax.set_ylabel("mean regret", fontsize=8)
    axes[0, 0].legend(fontsize=6)
    save(fig, path, dpi=100)


# ----------------------------------------------------------------------------- CLI
def parse_args(argv=None):
    p = ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: rastrigin + ackley, d = 3, 2 folds, 1000 evaluations")
    p.add_argument("--methods", default=",".join(METHODS),
                   help=f"comma list of {', '.join(METHODS)}, {VARIANT}<anneal> (a number in (0, 1] or budget)")
    p.add_argument("--functions", default=None, help=f"comma list of {', '.join(FUNCTIONS)}")
    p.add_argument("--dims", default=None, help="comma list of dimensions (default 10,30)")
    p.add_argument("--folds", type=int, default=None, help="folds per problem (default 10)")
    p.add_argument("--evaluations", type=int, default=None, help="budget per fold (default 100000)")
    p.add_argument("--lbfgs-evaluations", type=int, default=None,
                   help="budget per fold of repeated L-BFGS (default: --evaluations; scipy costs ~1-2 ms per "
                        "evaluation on a loaded 2-core box, so 1e5 x 10 folds x 10 problems takes hours there)")
    p.add_argument("--shift", type=float, default=0.5, help="half-width of the optimum's translation (default 0.5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default experiments_out/gennes_table1[_quick])")
    p.add_argument("--figures", default=None, help="where the figure is copied (default docs/figures/gennes)")
    p.add_argument("--date", default=None, help="date written with the table (default: today)")
    p.add_argument("--force", action="store_true", help="rerun finished runs")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def _list(text, allowed, what, cast=str):
    items = [s for s in text.split(",") if s]
    out = []
    for s in items:
        try:
            v = cast(s)
        except ValueError:
            v = None
        if v is None or (allowed is not None and v not in allowed) or (cast is int and v < 1):
            allowed_s = ", ".join(map(str, allowed)) if allowed is not None else "integers >= 1"
            fail(f"unknown {what} {s!r}; valid: {allowed_s}")
        out.append(v)
    if not out:
        fail(f"no {what} given")
    return out


def validate(args):
    """Check every option before any compilation (one `error:` line, exit 2)."""
    from policysearch.density.benchmarks import BENCHMARK_NAMES

    q = QUICK if args.quick else {}
    variants = [m for m in args.methods.split(",") if m.startswith(VARIANT)]
    args.methods = _list(args.methods, METHODS + tuple(variants), "method")
    args.functions = _list(args.functions or ",".join(q.get("functions", FUNCTIONS)),
                           [f for f in BENCHMARK_NAMES if f != "step"], "function")
    args.dims = _list(args.dims or ",".join(map(str, q.get("dims", DIMS))), None, "dimension", int)
    args.folds = args.folds if args.folds is not None else q.get("folds", 10)
    args.evaluations = args.evaluations if args.evaluations is not None else q.get("evaluations", 100000)
    args.lbfgs_evaluations = args.lbfgs_evaluations if args.lbfgs_evaluations is not None else args.evaluations
    for name in ("folds", "evaluations", "lbfgs_evaluations"):
        if getattr(args, name) < 1:
            fail(f"--{name.replace('_', '-')}={getattr(args, name)} is invalid: must be an integer >= 1")
    if args.evaluations < EVALS_PER_GENERATION:
        fail(f"--evaluations={args.evaluations} is below one generation ({EVALS_PER_GENERATION})")
    if not (math.isfinite(args.shift) and args.shift >= 0):
        fail(f"--shift={args.shift} is invalid: must be a finite number >= 0")
    try:
        for fn in args.functions:
            build_problem("gennes", fn, args.dims[0], args.folds, args.evaluations, args.shift, args.seed)
        for m in variants:  # e.g. a bad anneal value
            build_problem(m, args.functions[0], args.dims[0], args.folds, args.evaluations, args.shift, args.seed)
    except Exception as exc:  # noqa: BLE001 - config / domain errors: one line
        fail(str(exc))
    from experiments.paths import output_dirs

    args.out, args.figures = output_dirs("gennes_table1", args.quick, args.out, args.figures, "gennes")
    return args


def main(argv=None) -> int:
    args = validate(parse_args(argv))
    from policysearch import compile_cache

    compile_cache.enable()
    t0 = time.perf_counter()
    jobs = [(fn, d, m) for fn in args.functions for d in args.dims for m in args.methods]
    print(f"GENNES Table 1: {len(args.functions)} functions x {len(args.dims)} dims x {len(args.methods)} methods, "
          f"{args.folds} folds, {args.evaluations} evaluations -> {args.out}", flush=True)
    records = {}
    for k, (fn, d, m) in enumerate(jobs, 1):
        path = os.path.join(args.out, "runs", f"{fn}-{d}", f"{m}.json")
        rec, reused = run_one(m, fn, d, args, path)
        records[(fn, d, m)] = rec
        at = {b: mean_regret(rec, int(b)) for b in rec["regret_at"]}
        took = "reused" if reused else f"{rec['seconds']:.0f} s"
        print(f"[{k}/{len(jobs)}] {fn}-{d} {m}: {took}; mean regret "
              + ", ".join(f"{int(b):.0e}: {fmt(v, rec['float64'])}" for b, v in at.items())
              + f" (elapsed {time.perf_counter() - t0:.0f} s)", flush=True)
    # every finished run of the requested problems (e.g. written by a parallel --methods process)
    for fn in args.functions:
        for d in args.dims:
            folder = os.path.join(args.out, "runs", f"{fn}-{d}")
            saved = sorted(f[:-5] for f in os.listdir(folder) if f.startswith(VARIANT) and f.endswith(".json")) \
                if os.path.isdir(folder) else []
            for m in (*METHODS, *saved):
                path = os.path.join(folder, f"{m}.json")
                if (fn, d, m) not in records and os.path.exists(path):
                    with open(path) as f:
                        rec = json.load(f)
                    if rec["folds"] == args.folds and rec["evaluations"] == budget_of(m, args) \
                            and rec["shift"] == args.shift and rec["seed"] == args.seed:
                        records[(fn, d, m)] = rec
    found = {k[2] for k in records}
    methods = [m for m in METHODS if m in found] + sorted(found - set(METHODS))
    budgets = [b for b in BUDGETS if b <= args.evaluations]
    os.makedirs(args.figures, exist_ok=True)
    fig_path = os.path.join(args.figures, "table1_regret" + ("_anneal" if any(m.startswith(VARIANT) for m in methods)
                                                             else "")
                            + (f"_shift{args.shift:g}" if args.shift != 0.5 else "") + ".png")
    figure(records, methods, args.functions, args.dims, fig_path)
    shutil.copyfile(fig_path, os.path.join(args.out, os.path.basename(fig_path)))
    wall = time.perf_counter() - t0
    date = args.date or datetime.date.today().isoformat()
    md = markdown(records, methods, args.functions, args.dims, budgets, args, date,
                  os.path.relpath(fig_path, ROOT), wall)
    with open(os.path.join(args.out, "table1.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, "table1.json"), "w") as f:
        json.dump({"date": date, "command": ["python", "experiments/gennes_table1.py", *args.argv],
                   "wall_time_s": wall, "claims": claims(records, args.functions, args.dims),
                   "mean_rank": mean_ranks(records, methods, args.functions, args.dims, budgets),
                   "mean_regret": {f"{fn}-{d}-{m}": {str(b): mean_regret(r, b) for b in budgets}
                                   for (fn, d, m), r in records.items()}}, f, indent=1)
    print(md)
    print(f"wrote {os.path.join(args.out, 'table1.md')} ({wall / 60:.1f} min)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
