"""Sweeps of the main job: collect a local sweep's runs into one table and report, and W&B helpers.

The metric every sweep optimises is ``sweep_metric`` (``policysearch.train.sweep_metric``): the
mean over seeds of the validated best return, higher is better. The Hydra main returns it (so
any Hydra sweeper, e.g. Optuna, can use it) and logs it to the W&B run summary. See docs/sweeps.md.

CLI::

    python -m policysearch.sweeps collect SWEEP_DIR [SWEEP_DIR ...] [--out DIR] [--no-report]
    python -m policysearch.sweeps wandb-command configs/sweep/X.yaml [--seed N] [--run] [KEY=VALUE ...]

``collect`` finds every finished run directory below the given folders (a Hydra multirun / Optuna
/ Ray sweep directory, ``outputs/sweeps/<sweep id>`` of a W&B sweep, ...), writes
``sweep_results.{md,csv,json}`` (one row per run: the config values that differ between the runs,
``sweep_metric``, seeds solved; best first) and the side-by-side comparison report of
``policysearch.report.compare_runs`` into ``--out`` (default ``SWEEP_DIR/sweep_report``).

``wandb-command`` samples a parameter set from a W&B sweep file with W&B's own sweep engine
(``sweeps``) and prints the exact command line a ``wandb agent`` would run for it (built by
wandb's agent code); ``KEY=VALUE`` arguments are added to the sweep as constant parameters (e.g.
``generations=5`` for a smoke test) and ``--run`` runs that command here with W&B offline.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
from typing import Any

SUMMARY = "summary.json"
CONFIG = "config.yaml"
RESULTS = "sweep_results"
IGNORED_KEYS = ("out_dir", "resume")  # differ between the runs of any sweep; not parameters


# --------------------------------------------------------------------------------------------
# collecting the runs of a sweep
# --------------------------------------------------------------------------------------------
def _natural(path: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def find_run_dirs(paths) -> list[str]:
    """Finished run directories (holding summary.json and config.yaml) at or below ``paths``."""
    found = []
    for root in [os.fspath(p) for p in paths]:
        if not os.path.isdir(root):
            raise FileNotFoundError(f"sweep directory {root!r} does not exist")
        for dirpath, dirnames, filenames in os.walk(root):
            if SUMMARY in filenames and CONFIG in filenames:
                found.append(dirpath)
                dirnames[:] = []  # a run directory holds no further runs
            else:
                dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "wandb"]
    return sorted(dict.fromkeys(found), key=_natural)


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = json.dumps(v) if isinstance(v, list) else v
    return out


def _read_run(run_dir: str) -> dict:
    import yaml

    from .train import sweep_metric

    with open(os.path.join(run_dir, SUMMARY)) as f:
        summary = json.load(f)
    with open(os.path.join(run_dir, CONFIG)) as f:
        config = yaml.safe_load(f) or {}
    return {
        "run_dir": run_dir,
        "config": _flatten(config),
        "strategy": summary.get("strategy"),
        "env": summary.get("env"),
        "sweep_metric": sweep_metric(summary),
        "solved": f"{summary.get('solved_count', 0)}/{summary.get('num_seeds', len(summary['seeds']))}",
        "generations_run": summary.get("generations_run"),
        "wall_time_s": summary.get("wall_time_s"),
    }


def sweep_table(run_dirs) -> tuple[list[str], list[list]]:
    """(headers, rows) of a sweep, best ``sweep_metric`` first. Columns: rank, run, the config
    values that differ between the runs, sweep_metric, seeds solved, generations, wall time."""
    runs = [_read_run(d) for d in run_dirs]
    keys = sorted({k for r in runs for k in r["config"]})
    varied = [k for k in keys if k not in IGNORED_KEYS
              and len({json.dumps(r["config"].get(k), sort_keys=True, default=str) for r in runs}) > 1]
    base = os.path.commonpath([os.path.abspath(r["run_dir"]) for r in runs]) if runs else ""
    runs.sort(key=lambda r: -r["sweep_metric"])
    headers = ["rank", "run", *varied, "sweep_metric", "solved", "generations", "wall time (s)"]
    rows = []
    for i, r in enumerate(runs, 1):
        rel = os.path.relpath(os.path.abspath(r["run_dir"]), base) if len(runs) > 1 else r["run_dir"]
        rows.append([i, rel, *[r["config"].get(k) for k in varied], r["sweep_metric"], r["solved"],
                     r["generations_run"], None if r["wall_time_s"] is None else round(r["wall_time_s"], 1)])
    return headers, rows


def _md_cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v).replace("|", "\\|")


def collect(sweep_dirs, out_dir: str | None = None, report: bool = True) -> list[str]:
    """One table (``sweep_results.{md,csv,json}``) and, with ``report``, the comparison report of
    every finished run below ``sweep_dirs``, written to ``out_dir``. Returns the written paths."""
    sweep_dirs = [os.fspath(d) for d in ([sweep_dirs] if isinstance(sweep_dirs, (str, os.PathLike))
                                         else sweep_dirs)]
    run_dirs = find_run_dirs(sweep_dirs)
    if not run_dirs:
        raise ValueError(f"no finished run directories (with {SUMMARY}) under {', '.join(sweep_dirs)}")
    from .cli import UsageError, prepare_out_dir

    try:
        out_dir = prepare_out_dir(out_dir or os.path.join(sweep_dirs[0], "sweep_report"), "--out")
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    headers, rows = sweep_table(run_dirs)
    paths = []
    path = os.path.join(out_dir, RESULTS + ".csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(headers)
        w.writerows(rows)
    paths.append(path)
    path = os.path.join(out_dir, RESULTS + ".json")
    with open(path, "w") as f:
        json.dump({"sweep_dirs": [os.path.abspath(d) for d in sweep_dirs], "metric": "sweep_metric",
                   "goal": "maximize", "runs": [dict(zip(headers, r)) for r in rows]}, f, indent=2)
        f.write("\n")
    paths.append(path)
    lines = [f"# Sweep results: {len(rows)} runs", "",
             f"Sweep: {', '.join(os.path.abspath(d) for d in sweep_dirs)}", "",
             "`sweep_metric` = mean over seeds of the validated best return (higher is better); "
             "columns between `run` and `sweep_metric` are the config values that differ between runs.", "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(v) for v in r) + " |" for r in rows]
    for d in sweep_dirs:
        optuna = os.path.join(d, "optimization_results.yaml")
        if os.path.exists(optuna):
            with open(optuna) as f:
                lines += ["", f"Optuna's result ({optuna}):", "", "```yaml", f.read().rstrip(), "```"]
    if report:
        lines += ["", "Side-by-side report of these runs: [index.html](index.html), [report.md](report.md)."]
    path = os.path.join(out_dir, RESULTS + ".md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    paths.append(path)
    if report:
        from .report import compare_runs

        paths += compare_runs(run_dirs, out_dir)
    return paths


# --------------------------------------------------------------------------------------------
# W&B sweeps
# --------------------------------------------------------------------------------------------
def load_sweep(path: str) -> dict:
    """A W&B sweep file as a dict (checked against W&B's sweep schema when ``sweeps`` is installed)."""
    import yaml

    from .cli import CONFIG_DIR

    if not os.path.exists(path) and path.replace(os.sep, "/").startswith("configs/"):
        shipped = os.path.join(CONFIG_DIR, path.split("/", 1)[1])  # an installed package's copy
        path = shipped if os.path.exists(shipped) else path
    with open(path) as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict) or "parameters" not in config or "command" not in config:
        raise ValueError(f"{path}: not a W&B sweep definition (needs `parameters` and `command`)")
    try:
        sweeps = _sweeps_engine()
    except ImportError:
        return config
    violations = sweeps.schema_violations_from_proposed_config(config)
    if violations:
        raise ValueError(f"{path}: invalid W&B sweep: {'; '.join(violations)}")
    return config


def _sweeps_engine():
    import warnings

    with warnings.catch_warnings():  # sweeps 0.2 uses pydantic-1 config names
        warnings.simplefilter("ignore")
        import sweeps
    return sweeps


def sample_parameters(sweep_config: dict, seed: int = 0, constants: dict | None = None) -> dict:
    """One parameter set ``{name: {"value": v}}`` drawn from the sweep's search space by W&B's
    sweep engine (grid and bayes sweeps are sampled at random, as a first bayes run is), as the
    W&B server sends it to an agent. ``constants`` are added as constant parameters."""
    import numpy as np

    sweeps = _sweeps_engine()
    config = dict(sweep_config, parameters={**sweep_config["parameters"],
                                            **{k: {"value": v} for k, v in (constants or {}).items()}})
    config["method"] = "random"
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        run = sweeps.next_run(config, [])
    finally:
        np.random.set_state(state)
    return json.loads(json.dumps(run.config, default=float))  # the agent receives JSON values


def agent_command(sweep_config: dict, params: dict, sweep_id: str = "dryrun", run_id: str = "dryrun",
                  wandb_dir: str | None = None) -> tuple[list[str], dict[str, str]]:
    """(command, environment) that ``wandb agent`` would start for ``params``, built by wandb's own
    agent code (macros ``${env}``, ``${interpreter}``, ``${args_no_hyphens}``, ``${envvar:X}``, ...).

    Like the agent it writes the parameter file ``<wandb_dir>/wandb/sweep-<id>/config-<run>.yaml``
    that ``wandb.init`` of the run reads. ``os.environ`` is left as it was.
    """
    from wandb import wandb_agent

    captured: dict[str, Any] = {}

    class _Capture:
        def __init__(self, command=None, env=None, **_):
            captured.update(command=list(command), env=dict(env))

    saved_env, saved_process = dict(os.environ), wandb_agent.AgentProcess
    try:
        os.environ["WANDB_SWEEP_ID"] = sweep_id
        os.environ["WANDB_DIR"] = os.path.abspath(wandb_dir or os.getcwd())
        wandb_agent.AgentProcess = _Capture
        agent = wandb_agent.Agent(None, None, sweep_id=sweep_id)
        agent._sweep_command = list(sweep_config.get("command") or [])
        agent._command_run({"type": "run", "run_id": run_id, "program": sweep_config.get("program"),
                            "args": params})
    finally:
        wandb_agent.AgentProcess = saved_process
        os.environ.clear()
        os.environ.update(saved_env)
    return captured["command"], captured["env"]


def read_wandb_offline_run(path: str) -> dict:
    """``{"summary": {...}, "config": {...}, "sweep_id": str, "run_id": str}`` of an offline W&B
    run, read from its ``.wandb`` transaction log (W&B writes no wandb-summary.json offline).
    ``path``: the ``.wandb`` file, an ``offline-run-*`` folder, or a folder holding ``wandb/``."""
    import glob
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.wandb")) or
                       glob.glob(os.path.join(path, "wandb", "offline-run-*", "*.wandb")))
        if not files:
            raise FileNotFoundError(f"no offline W&B run (.wandb file) in {path!r}")
        path = files[-1]
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b":W&B":
        raise ValueError(f"{path!r} is not a W&B transaction log")
    # LevelDB log format: 32 KiB blocks of records [crc32c u32, length u16, type u8, payload]
    block, pos, buf, records = 32768, 7, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        payload = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 1:  # full
            records.append(payload)
        elif kind == 2:  # first
            buf = payload
        elif kind == 3:  # middle
            buf += payload
        elif kind == 4:  # last
            records.append(buf + payload)
            buf = b""
    out: dict[str, Any] = {"summary": {}, "config": {}, "sweep_id": None, "run_id": None}
    for raw in records:
        rec = pb.Record()
        rec.ParseFromString(raw)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out["sweep_id"], out["run_id"] = rec.run.sweep_id or None, rec.run.run_id
            out["config"].update({i.key: json.loads(i.value_json) for i in rec.run.config.update})
        elif kind == "config":
            out["config"].update({i.key: json.loads(i.value_json) for i in rec.config.update})
        elif kind == "summary":
            out["summary"].update({i.key: json.loads(i.value_json) for i in rec.summary.update})
    return out


def _value(text: str):
    import yaml

    return yaml.safe_load(text)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    from .cli import ArgumentParser  # one `error:` line, exit 2

    parser = ArgumentParser(prog="python -m policysearch.sweeps", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("collect", help="one table + comparison report of the finished runs below SWEEP_DIR")
    p.add_argument("sweep_dirs", nargs="+", metavar="SWEEP_DIR")
    p.add_argument("--out", default=None, help="output folder (default SWEEP_DIR/sweep_report)")
    p.add_argument("--no-report", action="store_true", help="only the table, no comparison report")
    p = sub.add_parser("wandb-command", help="the command a W&B agent runs for a sampled parameter set")
    p.add_argument("sweep_file")
    p.add_argument("constants", nargs="*", metavar="KEY=VALUE", help="extra constant parameters")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled parameter set")
    p.add_argument("--run", action="store_true", help="run it here with WANDB_MODE=offline")
    args, extra = parser.parse_known_args(argv)
    if extra and (args.cmd != "wandb-command" or any(e.startswith("-") or "=" not in e for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.constants += extra

    if args.cmd == "collect":
        try:
            paths = collect(args.sweep_dirs, args.out, report=not args.no_report)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        table = next(p for p in paths if p.endswith(RESULTS + ".md"))
        print(f"sweep results: {os.path.abspath(table)} ({len(paths)} files)")
        return 0

    try:
        config = load_sweep(args.sweep_file)
        bad = [c for c in args.constants if "=" not in c]
        if bad:
            raise ValueError(f"expected KEY=VALUE, got {bad[0]!r}")
        constants = {k: _value(v) for k, v in (c.split("=", 1) for c in args.constants)}
        params = sample_parameters(config, args.seed, constants)
    except (OSError, ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import time

    command, env = agent_command(config, params, run_id=f"dryrun{int(time.time())}")
    print(shlex.join(command))
    if not args.run:
        return 0
    env["WANDB_MODE"] = "offline"
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # ${interpreter}
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
