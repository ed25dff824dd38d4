"""`python -m policysearch.bench suite=classic [strategies=[sv_cma_es,cma_es]] [seeds=20] [out_dir=...]`

Plans the cells (every check before anything compiles), runs or reuses them (cells.py),
aggregates them with rliable (aggregate.py) and writes results.json, table.md, index.html and
the PNG figures (render.py) in the bench directory. `resume=<bench_dir>` continues a killed
bench with its saved config (bench.yaml); rerunning with the same `out_dir` does the same.
"""

from __future__ import annotations

import json
import math
import os
import sys

from omegaconf import DictConfig, OmegaConf

from ..cli import UsageError, hydra_app, prepare_out_dir, task_overrides

BENCH_CONFIG = "bench.yaml"
RESUME_CHANGEABLE = ("resume", "progress", "logger")


def _jsonable(x):
    """numpy and NaN-free JSON values (NaN/inf -> None)."""
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    return x


def resolve(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """cfg itself, or for `resume=<bench_dir>` the saved bench config (+ the progress / logger
    given on this command line)."""
    if cfg.get("resume") in (None, ""):
        return cfg
    path = os.path.join(str(cfg.resume), BENCH_CONFIG)
    if not os.path.exists(path):
        raise UsageError(f"resume={cfg.resume!r} is not a bench directory (no {BENCH_CONFIG})")
    saved = OmegaConf.load(path)
    for ov in overrides:
        root = ov.lstrip("+~").split("=", 1)[0].split(".", 1)[0]
        if root not in RESUME_CHANGEABLE:
            raise UsageError(f"cannot change {root!r} when resuming {cfg.resume!r}; only these may change: "
                             f"{', '.join(RESUME_CHANGEABLE)}")
        if root != "resume":
            saved[root] = cfg[root]
    saved.resume, saved.out_dir = None, os.path.abspath(str(cfg.resume))
    return saved


def run_bench(cfg: DictConfig, overrides: list[str] | None = None) -> dict:
    """Run (or continue) a bench; returns the results dict written to results.json."""
    from .cells import state
    from .suite import plan

    cfg = resolve(cfg, overrides or [])
    cfg.out_dir = os.path.abspath(str(cfg.out_dir))  # bench.yaml works for resume= from anywhere
    suite, envs, strategies, seeds, cells = plan(cfg)  # every check, nothing compiled yet
    states = [state(c) for c in cells]  # finished / unfinished / new; another config is an error
    out_dir = prepare_out_dir(cfg.out_dir)
    with open(os.path.join(out_dir, BENCH_CONFIG), "w") as f:
        f.write(OmegaConf.to_yaml(cfg, resolve=True))
    if cfg.progress:
        print(f"bench: {suite['name']}, {len(envs)} envs x {len(strategies)} strategies x {seeds} seeds in "
              f"{out_dir} (continue a killed bench with: python -m policysearch.bench resume={out_dir})",
              file=sys.stderr, flush=True)

    from .aggregate import aggregate
    from .cells import run_cells
    from .render import write_documents, write_figures

    records = run_cells(cells, states, report_figures=bool(cfg.report_figures), progress=bool(cfg.progress))
    thresholds = {c.env: c.config["env"]["solve_threshold"] for c in cells}
    results = {
        "suite": suite["name"], "envs": envs, "strategies": strategies, "num_seeds": seeds,
        "evaluations_per_generation": suite["evaluations_per_generation"],
        "budgets": {e: {k: suite["envs"][e][k] for k in ("generations", "episodes")} for e in envs},
        "layouts": {s: [suite["strategies"][s]["num_particles"], suite["strategies"][s]["pop_size"]]
                    for s in strategies},
        **aggregate(records, envs, strategies, thresholds, reps=int(cfg.bootstrap_reps),
                    seed=int(cfg.bootstrap_seed), reference=str(cfg.reference)),
    }
    results = _jsonable(results)
    with open(os.path.join(out_dir, "results.json.tmp"), "w") as f:
        json.dump(results, f, indent=1)
    os.replace(os.path.join(out_dir, "results.json.tmp"), os.path.join(out_dir, "results.json"))
    figures = write_figures(results, out_dir)
    write_documents(results, out_dir, figures)
    for w in results["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    print(f"bench directory: {out_dir}")
    return results


@hydra_app("bench")
def main(cfg: DictConfig) -> None:
    run_bench(cfg, task_overrides())
