"""GENNES section 4.2: Bayesian optimisation whose acquisition is maximised by GENNES or repeated L-BFGS.

One command (from the repository root)::

    python experiments/gennes_bo.py                   # both tasks, the default folds / steps below
    python experiments/gennes_bo.py --tasks alpine1 --folds 10 --steps 100    # a longer run
    python experiments/gennes_bo.py --quick           # smoke run: alpine1 at d = 2, 1 fold, 3 steps

BO loop (what GPyOpt, the paper's library, does by default): a GP with an ARD Matern 5/2 kernel,
learned noise and normalised targets, its hyperparameters refitted by maximum likelihood with
restarts at every step (warm start + ``--gp-restarts`` random starts; experiments/gennes/gp.py), Expected
Improvement with jitter 0.01; the next query is the EI maximiser found by

* ``gennes``: the project's GENNES strategy, one generator, N = 10 offspring, 20 (digits) / 30
  (alpine1) iterations, started at the centre of the (unit-cube) domain, everything else the
  strategy's defaults (Adam 1e-4, a0 = 2, a <- 0.99 a); it returns the best offspring seen. EI and
  its gradient are evaluated in float32 (the strategy's precision) on the float64 GP's posterior.
* ``lbfgs``: scipy L-BFGS-B from 20 (digits) / 100 (alpine1) uniform starts, each run until the
  projected gradient is below 1e-5 (the paper's rule), on the float64 EI; the best end point wins.

An acquisition query is one EI value + gradient. Both maximisers of a fold start from the same
initial design (20 / 100 uniform points). Tasks (paper app. A.3):

* ``digits``: test error of a logistic regression (scikit-learn ``SGDClassifier``, log loss,
  elastic-net penalty, constant learning rate) on scikit-learn's bundled digits (pixels / 16,
  15 % test split drawn per fold). Hyperparameters: log10 learning rate, log10 L2, log10 L1 in
  [-5, 0] and the number of epochs in [5, 50] (rounded); L1 = a1, L2 = a2 enter scikit-learn as
  alpha = a1 + a2, l1_ratio = a1 / (a1 + a2).
* ``alpine1``: Alpine1 at d = 20 on [-10, 10]^20 (policysearch.density.benchmarks; the optimum's
  translation U(-0.5, 0.5)^20 drawn per fold), f* = 0.

The number of BO steps is not in the paper (``--steps``, default 40; REFERENCE.md suggests 50 or
100). Outputs (``--out``, default experiments_out/gennes_bo[_quick]/): ``runs/<task>/<method>_fold<k>.json``
(per step: the value found, best so far, acquisition queries, EI of the chosen point in float64,
seconds; reused when the command runs again with the same settings), ``bo.md`` / ``bo.json`` (the
RESULTS.md table) and ``bo.png`` (copied to ``--figures``, default docs/figures/gennes/).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: small LAPACK calls stay fast
os.environ.setdefault("MPLBACKEND", "Agg")

import dataclasses  # noqa: E402
import datetime  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from experiments.gennes import gp, lbfgs  # noqa: E402
from policysearch.cli import ArgumentParser, fail  # noqa: E402

METHODS = ("gennes", "lbfgs")
LABELS = {"gennes": "GENNES (N = 10)", "lbfgs": "repeated L-BFGS"}


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    dim: int
    lower: tuple
    upper: tuple
    init_points: int
    gennes_iterations: int
    lbfgs_starts: int
    ylabel: str


TASKS = {
    "digits": Task("digits", 4, (-5.0, -5.0, -5.0, 5.0), (0.0, 0.0, 0.0, 50.0), 20, 20, 20, "test error"),
    "alpine1": Task("alpine1", 20, (-10.0,) * 20, (10.0,) * 20, 100, 30, 100, "Alpine1 value"),
}
QUICK_TASK = Task("alpine1", 2, (-10.0,) * 2, (10.0,) * 2, 5, 3, 3, "Alpine1 value")
GENNES_POPULATION = 10


# ----------------------------------------------------------------------------- objectives
class DigitsObjective:
    """Test error of an elastic-net logistic regression (SGD) on the digits data, one fold's split."""

    def __init__(self, fold: int):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        x, y = load_digits(return_X_y=True)
        self.split = train_test_split(x / 16.0, y, test_size=0.15, random_state=fold, stratify=y)
        self.fold = fold

    def __call__(self, z: np.ndarray) -> float:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import SGDClassifier

        lr, l2, l1 = 10.0 ** np.asarray(z[:3], np.float64)
        epochs = int(np.clip(np.round(z[3]), 5, 50))
        xtr, xte, ytr, yte = self.split
        clf = SGDClassifier(loss="log_loss", penalty="elasticnet", alpha=l1 + l2, l1_ratio=l1 / (l1 + l2),
                            learning_rate="constant", eta0=lr, max_iter=epochs, tol=None, random_state=self.fold)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow at large learning rates
            try:
                clf.fit(xtr, ytr)
                err = 1.0 - clf.score(xte, yte)
            except ValueError:  # diverged to non-finite weights
                err = 1.0
        return float(err) if np.isfinite(err) else 1.0


class BenchmarkObjective:
    """A benchmark function of policysearch.density.benchmarks in float64, one fold's translation."""

    def __init__(self, function: str, dim: int, fold: int, seed: int):
        from policysearch.density.benchmarks import BenchmarkFunction

        self.target = BenchmarkFunction(function, dim=dim, shift=0.5, seed=seed * 1000 + fold)
        with jax.enable_x64(True):
            self._t = jnp.asarray(self.target._t, jnp.float64)
            self._f = jax.jit(self.target.value)

    def __call__(self, x: np.ndarray) -> float:
        with jax.enable_x64(True):
            return float(self._f(jnp.asarray(x, jnp.float64), self._t))


def make_objective(task: Task, fold: int, seed: int):
    return DigitsObjective(fold) if task.name == "digits" else BenchmarkObjective(task.name, task.dim, fold, seed)


# ----------------------------------------------------------------------------- acquisition maximisers
@functools.lru_cache(maxsize=None)
def _ei_value_and_grad():
    """float64 (-EI, -grad EI) at one unit-cube point; the posterior is an argument (no retrace)."""
    with jax.enable_x64(True):
        return jax.jit(jax.value_and_grad(lambda x, post: -gp.expected_improvement(post, x)))


def ei64(post, x) -> float:
    with jax.enable_x64(True):
        return -float(_ei_value_and_grad()(jnp.asarray(x, jnp.float64), post)[0])


def maximise_lbfgs(post, dim: int, starts: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Repeated L-BFGS-B on -EI in the unit cube (float64); returns (best point, queries)."""
    vg = _ei_value_and_grad()

    def fun(x):
        with jax.enable_x64(True):
            v, g = vg(jnp.asarray(x, jnp.float64), post)
        return float(v), np.asarray(g, np.float64)

    res = lbfgs.multistart(fun, 0.0, 1.0, starts, rng, dim=dim, gtol=1e-5)
    return res["x"], res["nfev"]


@functools.lru_cache(maxsize=None)
def _gennes_acquire(dim: int, iterations: int):
    """Compiled GENNES run on -EI: ``iterations`` generations of N = 10 in one lax.scan."""
    from policysearch import strategies

    s = strategies.make("gennes", num_particles=1, pop_size=GENNES_POPULATION, dim=dim)
    neg_ei = jax.vmap(jax.vmap(jax.value_and_grad(lambda x, post: -gp.expected_improvement(post, x)),
                               (0, None)), (0, None))

    @jax.jit
    def run(key, post, learning_rate):
        params = s.default_params.replace(lower=0.0, upper=1.0, learning_rate=learning_rate)
        k0, k1 = jax.random.split(key)
        state = s.init(k0, jnp.full((1, dim), 0.5, jnp.float32), params)

        def generation(st, k):
            x, st = s.ask(k, st)
            f, g = neg_ei(x, post)
            return s.tell(x, f, st, gradients=g), None

        state, _ = jax.lax.scan(generation, state, jax.random.split(k1, iterations))
        return state.best_solution

    return run


def maximise_gennes(post, dim: int, iterations: int, key, learning_rate: float = 1e-4) -> tuple[np.ndarray, int]:
    """GENNES on the float32 copy of the posterior; returns (best point, queries). The learning
    rate is traced (other values do not recompile); 1e-4 is the strategy's (authors') default."""
    post32 = jax.tree.map(lambda t: t.astype(jnp.float32) if jnp.issubdtype(t.dtype, jnp.floating) else t, post)
    x = np.asarray(_gennes_acquire(dim, iterations)(key, post32, jnp.float32(learning_rate)), np.float64)
    return np.clip(x, 0.0, 1.0), GENNES_POPULATION * iterations


@functools.lru_cache(maxsize=None)
def _ei_batch():
    with jax.enable_x64(True):
        return jax.jit(jax.vmap(gp.expected_improvement, (None, 0)))


def maximise_random(post, dim: int, queries: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The best of ``queries`` uniform points (float64 EI): GENNES's budget without the learning."""
    u = rng.uniform(size=(queries, dim))
    with jax.enable_x64(True):
        ei = np.asarray(_ei_batch()(post, jnp.asarray(u, jnp.float64)))
    return u[int(np.argmax(ei))], queries


# ----------------------------------------------------------------------------- BO loop
def run_bo(task: Task, method: str, fold: int, steps: int, seed: int, gp_restarts: int, log=None) -> dict:
    """One BO run; the initial design depends on (seed, fold) only (shared by both maximisers)."""
    objective = make_objective(task, fold, seed)
    lo, hi = np.asarray(task.lower), np.asarray(task.upper)
    design = np.random.default_rng([seed, fold, 0]).uniform(size=(task.init_points, task.dim))
    y0 = np.array([objective(lo + u * (hi - lo)) for u in design])
    data = gp.set_points(gp.empty_data(task.init_points + steps, task.dim), design, y0)
    rng = np.random.default_rng([seed, fold, 1 + METHODS.index(method)])
    key = jax.random.fold_in(jax.random.key(seed), fold)
    hyper, best = None, float(np.min(y0))
    rows = []
    for step in range(steps):
        t0 = time.perf_counter()
        hyper, lml = gp.fit(jax.random.fold_in(key, 2 * step), data, hyper, restarts=gp_restarts)
        post = gp.posterior(data, hyper)
        t1 = time.perf_counter()
        if method == "gennes":
            u, queries = maximise_gennes(post, task.dim, task.gennes_iterations, jax.random.fold_in(key, 2 * step + 1))
        else:
            u, queries = maximise_lbfgs(post, task.dim, task.lbfgs_starts, rng)
        t2 = time.perf_counter()
        y = objective(lo + u * (hi - lo))
        best = min(best, y)
        with jax.enable_x64(True):
            data = gp.add_point(data, jnp.asarray(u, jnp.float64), jnp.asarray(y, jnp.float64))
        rows.append({"step": step + 1, "x": (lo + u * (hi - lo)).tolist(), "y": y, "best": best, "queries": int(queries), "ei": ei64(post, u),
                     "log_likelihood": float(lml), "fit_s": round(t1 - t0, 3), "acquisition_s": round(t2 - t1, 3)})
        if log is not None:
            log(f"  {task.name} {method} fold {fold} step {step + 1}/{steps}: y {y:.4g}, best {best:.4g}, "
                f"{queries} queries, EI {rows[-1]['ei']:.3g}")
    return {"task": task.name, "method": method, "fold": fold, "steps": steps, "seed": seed,
            "gp_restarts": gp_restarts, "init_best": float(np.min(y0)), "task_settings": dataclasses.asdict(task),
            "rows": rows}


# ----------------------------------------------------------------------------- paired acquisition test
PAIRED_LRS = (1e-4, 1e-3, 1e-2)
PAIRED_EXTRA = (0, 20)


def run_paired(task: Task, fold: int, seed: int, gp_restarts: int) -> list[dict]:
    """The acquisition maximisers on the SAME GP posteriors: the fold's initial design plus
    ``PAIRED_EXTRA`` further uniform points; EI (float64) of each maximiser's answer and its queries.
    Methods: repeated L-BFGS, GENNES at the learning rates ``PAIRED_LRS``, and uniform random
    search with GENNES's number of queries."""
    objective = make_objective(task, fold, seed)
    lo, hi = np.asarray(task.lower), np.asarray(task.upper)
    design = np.random.default_rng([seed, fold, 0]).uniform(size=(task.init_points, task.dim))
    extra = np.random.default_rng([seed, fold, 99]).uniform(size=(max(PAIRED_EXTRA), task.dim))
    pts = np.vstack([design, extra])
    ys = np.array([objective(lo + u * (hi - lo)) for u in pts])
    rows = []
    for k in PAIRED_EXTRA:
        n = task.init_points + k
        data = gp.set_points(gp.empty_data(n, task.dim), pts[:n], ys[:n])
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), fold), 1000 + k)
        hyper, _ = gp.fit(key, data, restarts=gp_restarts)
        post = gp.posterior(data, hyper)
        found = {}
        t = time.perf_counter()
        found["lbfgs"] = (*maximise_lbfgs(post, task.dim, task.lbfgs_starts, np.random.default_rng([seed, fold, k])),
                          time.perf_counter() - t)
        for lr in PAIRED_LRS:
            t = time.perf_counter()
            found[f"gennes_lr{lr:g}"] = (*maximise_gennes(post, task.dim, task.gennes_iterations,
                                                          jax.random.fold_in(key, 1), lr), time.perf_counter() - t)
        t = time.perf_counter()
        found["random"] = (*maximise_random(post, task.dim, GENNES_POPULATION * task.gennes_iterations,
                                            np.random.default_rng([seed, fold, k, 7])), time.perf_counter() - t)
        for m, (u, q, sec) in found.items():
            rows.append({"task": task.name, "fold": fold, "extra_points": k, "method": m, "ei": ei64(post, u),
                         "queries": int(q), "seconds": round(sec, 3)})
    return rows


def paired_markdown(rows: list[dict], tasks) -> str:
    lines = ["EI (float64) of the point each maximiser returns on the same GP posteriors (each fold's initial "
             f"design, and that design plus {PAIRED_EXTRA[-1]} uniform points), relative to repeated L-BFGS's: "
             "median ratio, and in how many posteriors the method's EI is at least L-BFGS's (within 0.1 %).", "",
             "| task | maximiser | median EI / L-BFGS EI | >= L-BFGS | queries | median seconds |", "|---|---|---|---|---|---|"]
    for t in tasks:
        trs = [r for r in rows if r["task"] == t.name]
        if not trs:
            continue
        ref = {(r["fold"], r["extra_points"]): r["ei"] for r in trs if r["method"] == "lbfgs"}
        methods = list(dict.fromkeys(r["method"] for r in trs))
        for m in methods:
            mr = [r for r in trs if r["method"] == m]
            ratio = [r["ei"] / max(ref[(r["fold"], r["extra_points"])], 1e-300) for r in mr]
            wins = sum(r["ei"] >= 0.999 * ref[(r["fold"], r["extra_points"])] for r in mr)
            lines.append(f"| {t.name} | {m} | {np.median(ratio):.3g} | {wins}/{len(mr)} | "
                         f"{np.mean([r['queries'] for r in mr]):.0f} | {np.median([r['seconds'] for r in mr]):.2f} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- summary
def summarise(runs: dict, tasks, steps: int) -> dict:
    """Per task and method: mean / std over folds of the best value after chosen steps, queries."""
    out = {}
    marks = sorted({s for s in (10, 20, steps // 2, steps) if 1 <= s <= steps})
    for t in tasks:
        folds = sorted({f for (tt, m, f) in runs if tt == t.name and all((t.name, mm, f) in runs for mm in METHODS)})
        out[t.name] = {"folds": folds, "marks": marks}
        for m in METHODS:
            if not folds:
                continue
            best = np.array([[r["best"] for r in runs[(t.name, m, f)]["rows"]] for f in folds])  # [F, steps]
            init = np.array([runs[(t.name, m, f)]["init_best"] for f in folds])
            q = np.array([[r["queries"] for r in runs[(t.name, m, f)]["rows"]] for f in folds])
            acq = np.array([[r["acquisition_s"] for r in runs[(t.name, m, f)]["rows"]] for f in folds])
            out[t.name][m] = {
                "init_best_mean": float(init.mean()),
                "best_mean": best.mean(0).tolist(), "best_std": best.std(0).tolist(),
                "at": {str(s): {"mean": float(best[:, s - 1].mean()), "std": float(best[:, s - 1].std())}
                       for s in marks},
                "queries_per_step": float(q.mean()), "cumulative_queries": np.cumsum(q.mean(0)).tolist(),
                "acquisition_s_per_step": float(acq.mean()),
            }
        if folds:
            g = np.array([[r["best"] for r in runs[(t.name, "gennes", f)]["rows"]] for f in folds])[:, -1]
            lb = np.array([[r["best"] for r in runs[(t.name, "lbfgs", f)]["rows"]] for f in folds])[:, -1]
            out[t.name]["final_wins"] = {"gennes": int(np.sum(g < lb)), "lbfgs": int(np.sum(lb < g)),
                                         "ties": int(np.sum(g == lb))}
    return out


def markdown(summary: dict, tasks, args, date: str, figure_rel: str | None, wall: float) -> str:
    lines = []
    for t in tasks:
        s = summary[t.name]
        if not s["folds"]:
            continue
        marks = s["marks"]
        lines += [f"**{t.name}** (d = {t.dim}, {t.init_points} initial points, {len(s['folds'])} folds; "
                  f"{t.ylabel}, best so far, mean ± std over folds; GENNES {t.gennes_iterations} iterations x "
                  f"{GENNES_POPULATION}, L-BFGS {t.lbfgs_starts} starts)", "",
                  "| maximiser | initial design | " + " | ".join(f"after {k} steps" for k in marks)
                  + " | acquisition queries / step | acquisition s / step |",
                  "|---|---|" + "---|" * len(marks) + "---|---|"]
        for m in METHODS:
            r = s[m]
            cells = [f"{r['at'][str(k)]['mean']:.4g} ± {r['at'][str(k)]['std']:.2g}" for k in marks]
            lines.append(f"| {LABELS[m]} | {r['init_best_mean']:.4g} | " + " | ".join(cells)
                         + f" | {r['queries_per_step']:.0f} | {r['acquisition_s_per_step']:.2f} |")
        w = s["final_wins"]
        lines += ["", f"Final best value per fold: GENNES lower in {w['gennes']}, L-BFGS lower in {w['lbfgs']}, "
                  f"equal in {w['ties']} of {len(s['folds'])} folds.", ""]
    lines.append(f"Wall time of this invocation: {wall / 60:.1f} min (finished runs reused). Date: {date}.")
    if figure_rel:
        lines += ["", f"![BO: best value vs steps and vs acquisition queries]({figure_rel})"]
    return "\n".join(lines) + "\n"


def figure(summary: dict, tasks, path: str) -> None:
    import matplotlib.pyplot as plt

    from policysearch.density.plotting import save

    tasks = [t for t in tasks if summary[t.name]["folds"]]
    fig, axes = plt.subplots(len(tasks), 2, figsize=(8, 3 * len(tasks)), squeeze=False)
    for i, t in enumerate(tasks):
        s = summary[t.name]
        for k, m in enumerate(METHODS):
            mean, std = np.asarray(s[m]["best_mean"]), np.asarray(s[m]["best_std"])
            steps = np.arange(1, len(mean) + 1)
            axes[i, 0].plot(steps, mean, color=f"C{k}", label=LABELS[m])
            axes[i, 0].fill_between(steps, mean - std, mean + std, color=f"C{k}", alpha=0.15)
            axes[i, 1].plot(s[m]["cumulative_queries"], mean, color=f"C{k}", label=LABELS[m])
        axes[i, 0].set_xlabel("BO steps (evaluations after the initial design)")
        axes[i, 1].set_xlabel("cumulative acquisition queries (EI + gradient)")
        axes[i, 1].set_xscale("log")
        for ax in axes[i]:
            ax.set_ylabel(f"best {t.ylabel}")
            ax.set_title(f"{t.name} (d = {t.dim}), {len(s['folds'])} folds", fontsize=9)
        axes[i, 0].legend(fontsize=7)
    save(fig, path, dpi=100)


# ----------------------------------------------------------------------------- CLI
def parse_args(argv=None):
    import argparse

    p = ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: alpine1 at d = 2, 1 fold, 3 steps, tiny maximisers")
    p.add_argument("--tasks", default="digits,alpine1", help=f"comma list of {', '.join(TASKS)}")
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    p.add_argument("--folds", type=int, default=None, help="folds per task (default 5; --quick 1)")
    p.add_argument("--steps", type=int, default=None, help="BO steps after the initial design (default 40; --quick 3)")
    p.add_argument("--gp-restarts", type=int, default=2, help="random restarts of the GP fit besides the warm start")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default experiments_out/gennes_bo[_quick])")
    p.add_argument("--figures", default=None, help="where bo.png is copied (default docs/figures/gennes)")
    p.add_argument("--date", default=None)
    p.add_argument("--force", action="store_true", help="rerun finished runs")
    p.add_argument("--verbose", action="store_true", help="one line per BO step")
    p.add_argument("--summary-only", action="store_true",
                   help="run nothing: summarise the finished runs in --out (folds where both maximisers finished)")
    p.add_argument("--paired", action="store_true",
                   help="instead of BO runs: every maximiser on the same GP posteriors (paired.md / paired.json)")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def validate(args):
    if args.quick:
        args.task_list = [QUICK_TASK]
    else:
        names = [s for s in args.tasks.split(",") if s]
        for n in names:
            if n not in TASKS:
                fail(f"unknown task {n!r}; valid: {', '.join(TASKS)}")
        if not names:
            fail("no task given")
        args.task_list = [TASKS[n] for n in names]
    args.method_list = [s for s in args.methods.split(",") if s]
    for m in args.method_list:
        if m not in METHODS:
            fail(f"unknown method {m!r}; valid: {', '.join(METHODS)}")
    args.folds = args.folds if args.folds is not None else (1 if args.quick else 5)
    args.steps = args.steps if args.steps is not None else (3 if args.quick else 40)
    for name in ("folds", "steps"):
        if getattr(args, name) < 1:
            fail(f"--{name}={getattr(args, name)} is invalid: must be an integer >= 1")
    if args.gp_restarts < 0:
        fail(f"--gp-restarts={args.gp_restarts} is invalid: must be an integer >= 0")
    from experiments.paths import output_dirs

    args.out, args.figures = output_dirs("gennes_bo", args.quick, args.out, args.figures, "gennes")
    return args


def main(argv=None) -> int:
    args = validate(parse_args(argv))
    from policysearch import compile_cache

    compile_cache.enable()
    t0 = time.perf_counter()
    if args.paired:
        rows = []
        for t in args.task_list:
            for f in range(args.folds):
                rows += run_paired(t, f, args.seed, args.gp_restarts)
                print(f"paired {t.name} fold {f} done (elapsed {time.perf_counter() - t0:.0f} s)", flush=True)
        os.makedirs(args.out, exist_ok=True)
        md = paired_markdown(rows, args.task_list)
        with open(os.path.join(args.out, "paired.md"), "w") as fh:
            fh.write(md)
        with open(os.path.join(args.out, "paired.json"), "w") as fh:
            json.dump({"command": ["python", "experiments/gennes_bo.py", *args.argv], "rows": rows}, fh, indent=1)
        print(md, flush=True)
        return 0
    runs = {}
    jobs = [(t, f, m) for t in args.task_list for f in range(args.folds) for m in args.method_list]
    print(f"GENNES BO: {len(jobs)} runs ({', '.join(t.name for t in args.task_list)}; {args.folds} folds; "
          f"{args.steps} steps) -> {args.out}", flush=True)
    for k, (t, f, m) in enumerate(jobs, 1):
        path = os.path.join(args.out, "runs", t.name, f"{m}_fold{f}.json")
        settings = json.loads(json.dumps({"steps": args.steps, "seed": args.seed, "gp_restarts": args.gp_restarts,
                                          "task_settings": dataclasses.asdict(t)}))  # as stored (tuples -> lists)
        rec = None
        if os.path.exists(path) and not args.force:
            with open(path) as fh:
                rec = json.load(fh)
            if any(rec.get(key) != v for key, v in settings.items()):
                rec = None
        reused = rec is not None
        if rec is None and args.summary_only:
            continue
        if rec is None:
            t_run = time.perf_counter()
            rec = run_bo(t, m, f, args.steps, args.seed, args.gp_restarts, log=print if args.verbose else None)
            rec["seconds"] = round(time.perf_counter() - t_run, 1)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".tmp", "w") as fh:
                json.dump(rec, fh)
            os.replace(path + ".tmp", path)
        runs[(t.name, m, f)] = rec
        took = "reused" if reused else f"{rec['seconds']:.0f} s"
        print(f"[{k}/{len(jobs)}] {t.name} {m} fold {f}: {took}; "
              f"best {rec['rows'][-1]['best']:.4g} (initial design {rec['init_best']:.4g}), "
              f"{sum(r['queries'] for r in rec['rows']) / len(rec['rows']):.0f} queries/step "
              f"(elapsed {time.perf_counter() - t0:.0f} s)", flush=True)
    # finished runs written by a parallel process with the same settings
    for t in args.task_list:
        for f in range(args.folds):
            for m in METHODS:
                path = os.path.join(args.out, "runs", t.name, f"{m}_fold{f}.json")
                if (t.name, m, f) not in runs and os.path.exists(path):
                    with open(path) as fh:
                        rec = json.load(fh)
                    if rec["steps"] == args.steps and rec["seed"] == args.seed and rec["gp_restarts"] == args.gp_restarts:
                        runs[(t.name, m, f)] = rec
    summary = summarise(runs, args.task_list, args.steps)
    wall = time.perf_counter() - t0
    date = args.date or datetime.date.today().isoformat()
    fig_rel = None
    if any(summary[t.name]["folds"] for t in args.task_list):
        os.makedirs(args.figures, exist_ok=True)
        fig_path = os.path.join(args.figures, "bo.png")
        figure(summary, args.task_list, fig_path)
        shutil.copyfile(fig_path, os.path.join(args.out, "bo.png"))
        fig_rel = os.path.relpath(fig_path, ROOT)
    md = markdown(summary, args.task_list, args, date, fig_rel, wall)
    with open(os.path.join(args.out, "bo.md"), "w") as fh:
        fh.write(md)
    with open(os.path.join(args.out, "bo.json"), "w") as fh:
        json.dump({"date": date, "command": ["python", "experiments/gennes_bo.py", *args.argv], "wall_time_s": wall,
                   "summary": summary}, fh, indent=1)
    print(md, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
