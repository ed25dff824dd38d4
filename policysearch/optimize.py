"""Minimise a benchmark function with any registered strategy: best-so-far regret vs evaluations.

    python -m policysearch.optimize function=rastrigin dim=10 strategy=gennes
    python -m policysearch.optimize function=ackley dim=30 strategy=cma_es evaluations=10000
    python -m policysearch.optimize function=schwefel strategy=svgd strategy.source=autodiff shift=2.0

Config: configs/optimize.yaml; the strategy group configs/strategy/ is shared with train and
sample, and ``strategy_defaults`` in optimize.yaml sets the paper's protocol (20 evaluations per
generation) unless the command line sets a key. Functions: policysearch.density.benchmarks
(rastrigin, ackley, styblinski, schwefel, alpine1, step); f* = 0, so the regret is the best f.

Every fold is one independent run with its own translation of the optimum t ~ U(-shift, shift)^d,
its own initial points and strategy seed; all folds run vmapped in one compiled program (the
translation is data: a new fold never recompiles), in chunks of generations with a progress line
between chunks. Evaluation counting: one evaluation per point evaluated, and a value + gradient
at a point (GENNES, SVGD with autodiff gradients) counts as one evaluation, as in the paper.

Initial points (``init``): ``auto`` puts GENNES's generators at the domain's centre (the
authors' code: zero output bias) and every other strategy's particles uniformly in the domain
(the paper's baselines); ``center`` / ``uniform`` force one rule. ``init_std: auto`` sets the
initial step size ``sigma_init`` of the CMA-ES family to a quarter of the domain's width (the
paper's "covering the domain"); ``null`` keeps the strategy config's value.

From Python (e.g. an experiment that reuses the fold protocol)::

    from policysearch import optimize
    problem = optimize.build(cfg, overrides)            # cfg: the composed optimize config
    res = optimize.run_folds(problem, range(10))         # res["best"]: [folds, generations]
    summary = optimize.summarise(problem, res, range(10))
    optimize.plot_regret(ax, evaluations, per_fold_regret, label="gennes")

The run directory (``out_dir``) receives config.yaml, regret.json (per-fold and mean / median
best-so-far regret at log-spaced evaluation counts, regret at 1e2..1e5 evaluations, best points,
translations) and regret.png. Bad input is one ``error:`` line, exit code 2, before compiling.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from policysearch.cli import UsageError, hydra_app, prepare_out_dir, task_overrides
from policysearch.config import ConfigError, apply_strategy_defaults, make_strategy

INIT_RULES = ("auto", "center", "uniform")
#: budgets at which regret.json reports the regret (those within the run)
REPORT_BUDGETS = (100, 1000, 10000, 100000, 1000000)


class OptimizeConfigError(UsageError):
    """Bad input to the optimisation CLI (one `error:` line, exit 2)."""


@dataclasses.dataclass(frozen=True)
class Problem:
    """Everything a run needs, validated (no compilation has happened)."""

    target: Any            # policysearch.density.benchmarks.BenchmarkFunction
    strategy: Any
    params: Any
    strategy_name: str
    folds: int
    seed: int
    generations: int       # generations run (a multiple of chunk)
    chunk: int             # generations per compiled call (progress between calls)
    init: str              # "center" | "uniform"
    settings: dict         # the strategy config after strategy_defaults (for the summary)

    @property
    def evals_per_generation(self) -> int:
        return self.strategy.num_particles * self.strategy.pop_size

    @property
    def needs_gradients(self) -> bool:
        return needs_gradients(self.strategy)


def needs_gradients(strategy) -> bool:
    """True for strategies whose tell needs grad f (GENNES; SVGD with autodiff gradients)."""
    return bool(getattr(strategy, "needs_gradients", False)) or getattr(strategy, "source", None) == "autodiff"


def _int(cfg, key: str, minimum: int) -> int:
    v = OmegaConf.select(cfg, key)
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise OptimizeConfigError(f"{key}={v!r} is invalid: must be an integer >= {minimum}")
    return int(v)


def build(cfg: DictConfig, overrides: list[str] | None = None) -> Problem:
    """Validate ``cfg`` and build the run's objects; raises OptimizeConfigError / ConfigError."""
    from policysearch.density.benchmarks import BENCHMARK_NAMES, BenchmarkFunction

    name = cfg.get("function")
    if name not in BENCHMARK_NAMES:
        raise OptimizeConfigError(f"function={name!r} is unknown; allowed: {', '.join(BENCHMARK_NAMES)}")
    dim = _int(cfg, "dim", 1)
    folds = _int(cfg, "folds", 1)
    seed = _int(cfg, "seed", 0)
    budget = _int(cfg, "evaluations", 1)
    updates = _int(cfg, "progress_updates", 1)
    shift = cfg.get("shift")
    if isinstance(shift, bool) or not isinstance(shift, (int, float)):
        raise OptimizeConfigError(f"shift={shift!r} is invalid: must be a number >= 0")
    try:
        target = BenchmarkFunction(name, dim=dim, shift=float(shift), seed=seed)
    except ValueError as exc:
        raise OptimizeConfigError(str(exc)) from None
    init = cfg.get("init")
    if init not in INIT_RULES:
        raise OptimizeConfigError(f"init={init!r} is invalid; allowed: {', '.join(INIT_RULES)}")

    overrides = task_overrides() if overrides is None else overrides
    apply_strategy_defaults(cfg, cfg.get("strategy_defaults"), overrides)
    scfg = OmegaConf.to_container(cfg.strategy, resolve=True)
    sname, source = scfg.get("name"), scfg.get("source")
    # the run's length before the strategy exists: schedules tied to it (GENNES's anneal: budget)
    sizes = (scfg.get("num_particles"),
             1 if sname == "svgd" and source in ("autodiff", "surrogate") else scfg.get("pop_size"))
    run_gens = None   # bad sizes: make_strategy reports them
    if all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes):
        run_gens = max(1, run_length(budget, sizes[0] * sizes[1], updates)[0])
    if sname == "svgd" and source in ("autodiff", "surrogate"):
        # config.make_strategy probes the params with the default source ("es", pop_size >= 2);
        # build that, then switch to the source that evaluates the particles themselves
        strategy, params = make_strategy({**scfg, "source": "es", "pop_size": 2}, dim, run_gens)
        try:
            strategy = dataclasses.replace(strategy, source=source, pop_size=1,
                                           objective=target.log_prob if source == "autodiff" else None)
        except ValueError as exc:   # each fold differentiates its own translated f (_fold_strategy)
            raise ConfigError(f"strategy.{exc}") from None
    else:
        strategy, params = make_strategy(scfg, dim, run_gens)
    if needs_gradients(strategy) and not target.differentiable:
        diff = [n for n in BENCHMARK_NAMES if BenchmarkFunction(n, dim=1, shift=0.0).differentiable]
        raise OptimizeConfigError(
            f"strategy {sname!r} needs gradients but function={name!r} is not differentiable; "
            f"use a gradient-free strategy or a differentiable function: {', '.join(diff)}")

    fields = {f.name for f in dataclasses.fields(params)}
    init_std = cfg.get("init_std")
    if init_std == "auto":
        init_std = float(target.upper[0] - target.lower[0]) / 4.0
    if init_std is not None:  # checked whatever the strategy: bad input is never silently ignored
        if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) or not init_std > 0 \
                or not math.isfinite(init_std):
            raise OptimizeConfigError(f"init_std={init_std!r} is invalid: must be auto, null or a number > 0")
    if init_std is not None and "sigma_init" in fields:
        params = params.replace(sigma_init=float(init_std))
    if "lower" in fields:   # GENNES: the generator's output box is the function's domain
        params = params.replace(lower=float(target.lower[0]), upper=float(target.upper[0]))
    if "num_generations" in fields:
        params = params.replace(num_generations=float(max(1, budget // (strategy.num_particles * strategy.pop_size))))
    if hasattr(strategy, "check_params"):
        try:
            strategy.check_params(params)
        except ValueError as exc:
            raise ConfigError(f"strategy.{exc}") from None

    epg = strategy.num_particles * strategy.pop_size
    if budget < epg:
        raise OptimizeConfigError(f"evaluations={budget} is below one generation ({epg} evaluations)")
    gens, chunk = run_length(budget, epg, updates)
    if init == "auto":
        init = "center" if sname == "gennes" else "uniform"
    settings = {k: v for k, v in scfg.items() if k != "objective"}
    return Problem(target, strategy, params, sname, folds, seed, gens, chunk, init, settings)


def run_length(budget: int, evals_per_generation: int, updates: int) -> tuple[int, int]:
    """(generations run, generations per compiled chunk): the budget's generations rounded down
    to a multiple of ``updates`` chunks."""
    gens = budget // evals_per_generation
    chunk = max(1, gens // updates)
    return (gens // chunk) * chunk, chunk


def _params_json(params) -> dict:
    """Numeric params as JSON; nested structs (the evosax adapter's ``params``) as dicts, CMA-ES constants left out."""
    return {f.name: _params_json(v) if dataclasses.is_dataclass(v) else np.asarray(v).tolist()
            for f in dataclasses.fields(params) if f.name != "cma" for v in [getattr(params, f.name)]}


# ----------------------------------------------------------------------------- compiled run
def fold_inputs(problem: Problem, fold_ids):
    """(keys [F], translations [F, d]) of the given fold indices; fold i's inputs depend on i
    and the seed only, so fold i is the same run whichever folds share its batch (bitwise for
    GENNES from 2 folds up; a batch of 1 differs by float32 rounding, docs/gennes.md)."""
    import jax
    import jax.numpy as jnp

    root = jax.random.key(problem.seed)
    ids = jnp.asarray(list(fold_ids), jnp.int32)
    keys = jax.vmap(lambda i: jax.random.fold_in(root, i))(ids)
    shifts = jax.vmap(lambda k: problem.target.random_translations(jax.random.fold_in(k, 1), 1)[0])(keys)
    return keys, shifts


def _fold_strategy(problem: Problem, translation):
    """The strategy of one fold: SVGD with autodiff differentiates the fold's translated f."""
    s = problem.strategy
    if getattr(s, "source", None) == "autodiff":
        value = problem.target.value
        return dataclasses.replace(s, objective=lambda x: value(x, translation))
    return s


def _init_fold(problem: Problem, key, translation):
    import jax
    import jax.numpy as jnp

    t, s = problem.target, _fold_strategy(problem, translation)
    k_x0, k_init = jax.random.split(jax.random.fold_in(key, 2))
    lo, hi = jnp.asarray(t.lower, jnp.float32), jnp.asarray(t.upper, jnp.float32)
    if problem.init == "center":
        x0 = jnp.broadcast_to((lo + hi) / 2, (s.num_particles, t.dim))
    else:
        x0 = jax.random.uniform(k_x0, (s.num_particles, t.dim), minval=lo, maxval=hi)
    return s.init(k_init, x0, problem.params)


def _chunk_fold(problem: Problem, state, key, translation, chunk_index):
    """``problem.chunk`` generations of one fold; returns (state, best-so-far f per generation)."""
    import jax

    s = _fold_strategy(problem, translation)
    value = problem.target.value
    grads = problem.needs_gradients and getattr(s, "needs_gradients", False)
    evaluate = jax.vmap(jax.vmap(jax.value_and_grad(value) if grads else value, (0, None)), (0, None))

    def generation(st, k):
        x, st = s.ask(k, st)
        if grads:
            f, g = evaluate(x, translation)
            st = s.tell(x, f, st, gradients=g)
        else:
            st = s.tell(x, evaluate(x, translation), st)
        return st, st.best_fitness

    keys = jax.random.split(jax.random.fold_in(jax.random.fold_in(key, 3), chunk_index), problem.chunk)
    return jax.lax.scan(generation, state, keys)


def compiled_fns(problem: Problem):
    """(init_fn, chunk_fn): jitted, vmapped over folds."""
    import jax

    init_fn = jax.jit(jax.vmap(lambda k, t: _init_fold(problem, k, t)))
    chunk_fn = jax.jit(jax.vmap(lambda st, k, t, c: _chunk_fold(problem, st, k, t, c),
                                in_axes=(0, 0, 0, None)))
    return init_fn, chunk_fn


def run_folds(problem: Problem, fold_ids, progress=None) -> dict:
    """Run the given folds (vmapped). Returns numpy arrays: ``best`` [F, generations] best-so-far
    f after every generation, ``best_solution`` [F, d], ``translations`` [F, d], plus timings."""
    import jax
    import jax.numpy as jnp

    keys, shifts = fold_inputs(problem, fold_ids)
    init_fn, chunk_fn = compiled_fns(problem)
    t0 = time.perf_counter()
    state = init_fn(keys, shifts)
    curves = []
    for c in range(problem.generations // problem.chunk):
        state, best = chunk_fn(state, keys, shifts, jnp.asarray(c, jnp.int32))
        curves.append(best)
        if progress is not None:
            b = np.asarray(best[:, -1])          # the only host sync: once per chunk
            done = (c + 1) * problem.chunk
            rate = done * problem.evals_per_generation * len(keys) / max(time.perf_counter() - t0, 1e-9)
            progress.update(done, b, rate)
    best = np.asarray(jnp.concatenate(curves, axis=1))
    t1 = time.perf_counter()
    return {"best": best, "best_solution": np.asarray(jax.device_get(state.best_solution)),
            "translations": np.asarray(shifts), "seconds": t1 - t0}


# ----------------------------------------------------------------------------- outputs
def _log_indices(n: int, points: int = 200) -> np.ndarray:
    idx = np.unique(np.round(np.logspace(0, math.log10(n), points)).astype(int)) - 1
    return np.unique(np.append(idx, n - 1))


def summarise(problem: Problem, res: dict, fold_ids) -> dict:
    epg = problem.evals_per_generation
    best = res["best"]                                    # [F, G]
    regret = best - problem.target.f_star
    gens = best.shape[1]
    idx = _log_indices(gens)
    evals = ((idx + 1) * epg).tolist()
    at = {}
    for b in REPORT_BUDGETS:
        g = b // epg
        if 1 <= g <= gens:
            r = regret[:, g - 1]
            at[str(b)] = {"mean": float(r.mean()), "median": float(np.median(r)), "per_fold": r.tolist()}
    t = problem.target
    return {
        "function": t.function, "dim": t.dim, "shift": t.shift, "domain": [float(t.lower[0]), float(t.upper[0])],
        "strategy": problem.strategy_name, "num_particles": int(problem.strategy.num_particles),
        "pop_size": int(problem.strategy.pop_size), "evaluations_per_generation": epg,
        "generations": gens, "evaluations": gens * epg, "folds": list(fold_ids), "seed": problem.seed,
        "init": problem.init, "gradients": problem.needs_gradients, "strategy_settings": problem.settings,
        "strategy_params": _params_json(problem.params),
        "final_regret": {"mean": float(regret[:, -1].mean()), "median": float(np.median(regret[:, -1])),
                         "per_fold": regret[:, -1].tolist()},
        "regret_at": at,
        "curve": {"evaluations": evals, "mean": regret[:, idx].mean(0).tolist(),
                  "median": np.median(regret[:, idx], axis=0).tolist(), "per_fold": regret[:, idx].tolist()},
        "best_solution": res["best_solution"].tolist(), "translations": res["translations"].tolist(),
        "run_seconds": round(res["seconds"], 3),
    }


#: regrets are drawn on a log axis, floored here (f* = 0 can be reached exactly)
REGRET_FLOOR = 1e-8


def plot_regret(ax, evaluations, per_fold, label: str, color: str = "C0") -> None:
    """Best-so-far regret [folds, points] vs evaluations on log-log axes: every fold thin, the
    mean over folds thick (reusable for several methods on one axis)."""
    ev = np.asarray(evaluations)
    per_fold = np.maximum(np.asarray(per_fold, np.float64), REGRET_FLOOR)
    for r in per_fold:
        ax.plot(ev, r, color=color, alpha=0.25, lw=0.8)
    ax.plot(ev, per_fold.mean(0), color=color, lw=2, label=f"{label} (mean)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("function evaluations")
    ax.set_ylabel("best-so-far regret")


def plot(summary: dict, path: str) -> None:
    """regret.png of one run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from policysearch.density.plotting import save

    c = summary["curve"]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    plot_regret(ax, c["evaluations"], c["per_fold"], summary["strategy"])
    ax.set_title(f"{summary['function']}-{summary['dim']}, {len(summary['folds'])} folds, shift {summary['shift']}")
    ax.legend()
    save(fig, path, dpi=110)


def run(cfg: DictConfig, overrides: list[str] | None = None) -> dict:
    """The CLI body (also callable from Python with a composed config); returns the summary."""
    problem = build(cfg, overrides)
    out = str(cfg.out_dir)
    if os.path.exists(os.path.join(out, "regret.json")):
        raise OptimizeConfigError(f"out_dir={out!r} already holds a finished run; choose another out_dir")
    prepare_out_dir(out)
    with open(os.path.join(out, "config.yaml"), "w") as f:
        f.write(OmegaConf.to_yaml(cfg, resolve=True))
    from policysearch.ui import Progress

    fold_ids = list(range(problem.folds))
    progress = Progress(problem.generations, fold_ids, enabled=bool(cfg.progress))
    progress.start(0)
    try:
        res = run_folds(problem, fold_ids, progress)
    finally:
        progress.stop()
    summary = summarise(problem, res, fold_ids)
    with open(os.path.join(out, "regret.json"), "w") as f:
        json.dump(summary, f, indent=1)
    if cfg.figures:
        plot(summary, os.path.join(out, "regret.png"))
    return summary


@hydra_app("optimize")
def main(cfg: DictConfig) -> float:
    # hydra_app has turned the compile cache on and given each multirun job its own out_dir
    summary = run(cfg, task_overrides())
    msg = {k: summary[k] for k in ("function", "dim", "strategy", "evaluations", "run_seconds")}
    msg["final_regret_mean"] = summary["final_regret"]["mean"]
    msg["regret_at"] = {k: round(v["mean"], 6) for k, v in summary["regret_at"].items()}
    msg["out_dir"] = str(cfg.out_dir)
    print(json.dumps(msg))
    return float(summary["final_regret"]["mean"])


if __name__ == "__main__":
    main()
