"""Resume after a kill at any moment equals the uninterrupted run (issue 13, part 1).

A tiny MountainCar run that stops early after 4 generations (2 seeds, chunks of 2; the solve
threshold is lowered so both seeds qualify, seed 1 only at generation 3): at generation 2 the
post-chunk decision is "continue", at generation 4 it is "early stop" after a validation.
Named crash points (policysearch.faults) kill the run at every step of a run; each crash is
followed by `resume=<dir>` and the end result is compared with the uninterrupted run:
metrics.jsonl, summary.json apart from wall times, exported policies, the report's numbers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, TINY, run_train
from policysearch.faults import ENV_AT, ENV_MODE, InjectedCrash

EARLY_STOP = [o for o in TINY if not o.startswith(("generations=", "early_stop=", "report="))] + [
    "generations=10", "early_stop=true", "early_stop_margin=0", "env.solve_threshold=-0.3", "report=true",
    # pinned SV-CMA-ES settings: the scenario (continue at 2, early stop at 4) must not move with the
    # main job's defaults (config.RL_STRATEGY_DEFAULTS)
    "strategy.bandwidth_scale=0.7", "strategy.repulsion_clip=1e30"]

# every named moment of a run, in the order a run passes them (generation where it matters)
CHAIN = ["chunk@2", "metrics@2", "checkpoint@2", "chunk@4", "metrics@4", "checkpoint@4",
         "early_stop_validation@4", "final_validation", "export", "summary", "report", "after_report"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "run"
    summary = run_train(EARLY_STOP + [f"out_dir={out}"])
    assert summary["generations_run"] == 4 and summary["stopped_early"], summary
    return out


def _read(run_dir):
    """What must be identical between runs (wall times and the run's own path removed)."""
    run_dir = str(run_dir)
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        metrics = [json.loads(line) for line in f]
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    summary.pop("wall_time_s")
    with open(os.path.join(run_dir, "policies", "policy.json")) as f:
        policy_meta = json.load(f)
    arrays = {}
    for entry in policy_meta["seeds"]:
        with np.load(os.path.join(run_dir, "policies", entry["file"])) as z:
            arrays.update({f"{entry['seed']}/{k}": z[k] for k in z.files})
    with open(os.path.join(run_dir, "report", "diversity.json")) as f:
        diversity = {k: v for k, v in json.load(f).items() if k not in ("run_dir", "wall_time_s")}
    with open(os.path.join(run_dir, "report", "report.md")) as f:
        report = re.sub(r"wall time: [\d.]+ s", "", f.read().replace(run_dir, "RUN"))
    return metrics, summary, policy_meta, arrays, diversity, report


def assert_same_run(a, b):
    ma, sa, pa, arr_a, da, ra = _read(a)
    mb, sb, pb, arr_b, db, rb = _read(b)
    assert ma == mb, "metrics.jsonl differs"
    assert sa == sb, "summary.json differs"
    assert pa == pb and arr_a.keys() == arr_b.keys()
    assert "0/archive_genotypes" in arr_a, "the QD archive is exported (and so compared)"
    for k in arr_a:
        np.testing.assert_array_equal(arr_a[k], arr_b[k], err_msg=k)
    assert da == db, "report numbers (diversity.json) differ"
    assert ra == rb, "report.md differs"


def test_a_kill_at_every_named_moment_then_resume_equals_the_uninterrupted_run(uninterrupted, tmp_path, monkeypatch):
    """One run killed at each crash point in turn (each resume is killed at the next point)."""
    out = tmp_path / "chain"
    monkeypatch.setenv(ENV_MODE, "raise")
    args = EARLY_STOP + [f"out_dir={out}"]
    for point in CHAIN:
        monkeypatch.setenv(ENV_AT, point)
        with pytest.raises(InjectedCrash, match=point.split("@")[0]):
            run_train(args)
        assert point.startswith("after_report") or not (out / "report" / "diversity.json").exists()
        args = [f"resume={out}"]
    monkeypatch.delenv(ENV_AT)
    summary = run_train(args)
    assert summary["generations_run"] == 4 and summary["stopped_early"]
    assert_same_run(out, uninterrupted)


def test_resume_right_after_the_early_stop_checkpoint_stops_there(uninterrupted, tmp_path, monkeypatch):
    """The issue's bug: checkpoint 4 on disk, early-stop validation not run; resume must stop at 4."""
    out = tmp_path / "bug"
    monkeypatch.setenv(ENV_MODE, "raise")
    monkeypatch.setenv(ENV_AT, "checkpoint@4")
    with pytest.raises(InjectedCrash):
        run_train(EARLY_STOP + [f"out_dir={out}"])
    assert sorted(int(p) for p in os.listdir(out / "checkpoints") if p.isdigit())[-1] == 4
    monkeypatch.delenv(ENV_AT)
    summary = run_train([f"resume={out}"])
    assert summary["generations_run"] == 4 and summary["stopped_early"]
    assert_same_run(out, uninterrupted)


def test_real_sigkill_at_the_early_stop_checkpoint_then_cli_resume(uninterrupted, tmp_path):
    """A real SIGKILL (crash point in kill mode) of the CLI process, resumed by the CLI."""
    out = tmp_path / "killed"
    env = {**os.environ, ENV_AT: "checkpoint@4", "WANDB_MODE": "disabled"}
    env.pop(ENV_MODE, None)
    r = subprocess.run([sys.executable, "-m", "policysearch.train", *EARLY_STOP, f"out_dir={out}"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr[-2000:])
    assert (out / "checkpoints" / "4").is_dir() and not (out / "summary.json").exists()
    env.pop(ENV_AT)
    r = subprocess.run([sys.executable, "-m", "policysearch.train", f"resume={out}"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert_same_run(out, uninterrupted)


def test_a_kill_inside_a_checkpoint_save_then_resume(uninterrupted, tmp_path, monkeypatch):
    """Orbax writes a step into a temporary folder and renames it when complete: a kill mid-save
    leaves that folder (simulated here) and no step 4; resume reruns chunk 3-4 from step 2."""
    out = tmp_path / "midsave"
    monkeypatch.setenv(ENV_MODE, "raise")
    monkeypatch.setenv(ENV_AT, "metrics@4")
    with pytest.raises(InjectedCrash):
        run_train(EARLY_STOP + [f"out_dir={out}"])
    torn = out / "checkpoints" / "4.orbax-checkpoint-tmp-99" / "default"
    torn.mkdir(parents=True)
    (torn / "partial").write_bytes(b"torn")
    monkeypatch.delenv(ENV_AT)
    summary = run_train([f"resume={out}"])
    assert summary["generations_run"] == 4 and not torn.exists()
    assert_same_run(out, uninterrupted)
