"""Run a bench's cells: each an ordinary `train` run in its own run directory, in this process.

A cell whose summary.json exists (and whose config.yaml matches) is reused; a cell with a
config.yaml but no summary.json was killed and continues with train's `resume=` (exact, see
policysearch/train.py); anything else starts fresh. The report's diversity metrics are
(re)computed for every finished cell (report/diversity.json; PNG figures only with
`report_figures=true`). One progress line per cell on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

from omegaconf import OmegaConf

from ..cli import UsageError
from .suite import Cell, differences, train_defaults

TIMING_FILE = "bench_cell.json"  # seconds the bench spent on a cell (train, report), written once


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def state(cell: Cell) -> str:
    """'finished', 'unfinished' or 'new'; UsageError when the directory holds another config."""
    saved_path = os.path.join(cell.run_dir, "config.yaml")
    if not os.path.exists(saved_path):
        if os.path.exists(os.path.join(cell.run_dir, "summary.json")):
            raise UsageError(f"cell {cell.name}: {cell.run_dir!r} has a summary.json but no config.yaml")
        return "new"
    saved = OmegaConf.to_container(OmegaConf.load(saved_path), resolve=True)
    diff = differences(saved, cell.config, defaults=train_defaults())
    if diff:
        raise UsageError(f"cell {cell.name} in {cell.run_dir!r} was run with another config "
                         f"({'; '.join(diff[:3])}); use another out_dir")
    return "finished" if os.path.exists(os.path.join(cell.run_dir, "summary.json")) else "unfinished"


def _run_train(cell: Cell, resume: bool) -> None:
    from ..train import run

    cfg = OmegaConf.create({**cell.config, "resume": cell.run_dir if resume else None})
    overrides = [f"resume={cell.run_dir}"] if resume else []  # train restores the saved config
    os.makedirs(cell.run_dir, exist_ok=True)
    with open(os.path.join(cell.run_dir, "train.log"), "a") as log, contextlib.redirect_stdout(log):
        run(cfg, overrides)


def _report(cell: Cell, figures: bool) -> dict:
    from ..report import load_or_analyse

    return load_or_analyse(cell.run_dir, write=True, figures=figures)


def _fmt_s(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def run_cells(cells: list[Cell], states: list[str], report_figures: bool = False, progress: bool = True) -> list[dict]:
    """Run (or reuse) every cell given its `state`; returns per cell {"cell", "summary",
    "diversity", "timing"}."""
    t0, ran, run_time = time.perf_counter(), 0, 0.0
    to_run = sum(s != "finished" for s in states)
    out = []
    for i, (cell, st) in enumerate(zip(cells, states), 1):
        timing_path = os.path.join(cell.run_dir, TIMING_FILE)
        if progress:
            eta = f", ETA {_fmt_s(run_time / ran * (to_run - ran))}" if ran else ""
            what = {"finished": "reused", "unfinished": "resuming", "new": "running"}[st]
            print(f"bench: cell {i}/{len(cells)} {cell.name}: {what} (elapsed {_fmt_s(time.perf_counter() - t0)}"
                  f"{eta})", file=sys.stderr, flush=True)
        timing = _read_json(timing_path) if os.path.exists(timing_path) else {}
        if st != "finished":
            t_cell = time.perf_counter()
            _run_train(cell, resume=st == "unfinished")
            timing = {"train_s": time.perf_counter() - t_cell}
        t_report = time.perf_counter()
        diversity = _report(cell, report_figures)
        if st != "finished" or "report_s" not in timing:
            timing["report_s"] = time.perf_counter() - t_report
            with open(timing_path + ".tmp", "w") as f:  # atomic: a kill never leaves a torn file
                json.dump(timing, f)
            os.replace(timing_path + ".tmp", timing_path)
        if st != "finished":
            ran += 1
            run_time += timing["train_s"] + timing["report_s"]
        out.append({"cell": cell, "summary": _read_json(os.path.join(cell.run_dir, "summary.json")),
                    "diversity": diversity, "timing": timing})
    if progress:
        print(f"bench: {len(cells)} cells ({ran} run, {len(cells) - ran} reused) in "
              f"{_fmt_s(time.perf_counter() - t0)}", file=sys.stderr, flush=True)
    return out
