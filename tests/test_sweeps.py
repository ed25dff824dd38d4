"""Sweeps of the main job with tiny budgets: the exact command a W&B agent runs for each sweep file
(offline), a local Hydra multirun collected into one table/report, a local Optuna sweep of the
returned metric, and a Ray launch on a local 2-worker Ray instance.

Needs the `sweeps` extra (`pip install -e .[sweeps]`); the tests that need a missing package skip.
"""

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

from helpers import CONFIG_DIR, ROOT, TINY
from policysearch import sweeps
from policysearch.train import sweep_metric

SWEEP_DIR = os.path.join(CONFIG_DIR, "sweep")
WANDB_SWEEPS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SWEEP_DIR, "wandb_*.yaml")))
SMALL = [o for o in TINY if not o.startswith("generations=")] + ["generations=2"]


def _train(args, cwd, timeout=300, **env):
    """`python -m policysearch.train ARGS` in a subprocess (W&B off unless env says otherwise)."""
    full_env = dict(os.environ, WANDB_MODE="disabled", **env)
    r = subprocess.run([sys.executable, "-m", "policysearch.train", *args], cwd=cwd, env=full_env,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _summary(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        return json.load(f)


def _config(run_dir):
    with open(os.path.join(run_dir, "config.yaml")) as f:
        return yaml.safe_load(f)


def _select(cfg, dotted):
    for part in dotted.split("."):
        cfg = cfg[part]
    return cfg


# --------------------------------------------------------------------------------------------
# W&B sweeps
# --------------------------------------------------------------------------------------------
def test_sweep_files():
    pytest.importorskip("sweeps")
    assert {"wandb_sv_cma_es_mountaincar.yaml", "wandb_strategy_grid.yaml"} <= set(WANDB_SWEEPS)
    for name in WANDB_SWEEPS:
        cfg = sweeps.load_sweep(os.path.join(SWEEP_DIR, name))  # W&B's own schema check
        assert cfg["metric"] == {"name": "sweep_metric", "goal": "maximize"}, name
        assert cfg["command"][:4] == ["${env}", "${interpreter}", "-m", "policysearch.train"], name
        assert cfg["command"][-1] == "${args_no_hyphens}", name
    sv = sweeps.load_sweep(os.path.join(SWEEP_DIR, "wandb_sv_cma_es_mountaincar.yaml"))
    assert {"strategy.bandwidth", "strategy.kernel_std", "strategy.schedule", "strategy.alpha",
            "strategy.num_particles"} <= set(sv["parameters"])
    grid = sweeps.load_sweep(os.path.join(SWEEP_DIR, "wandb_strategy_grid.yaml"))
    assert grid["method"] == "grid" and set(grid["parameters"]["strategy"]["values"]) == {
        "sv_cma_es", "mp_cma_es", "cma_es", "svgd"}


# static choices of the tiny run of tests/helpers.py: a sampled set with these reuses its compiled program
TINY_PROGRAM = {"strategy": "sv_cma_es", "strategy.num_particles": 4, "strategy.bandwidth": "median",
                "strategy.schedule": "linear"}


@pytest.mark.parametrize("name", WANDB_SWEEPS)
def test_wandb_agent_command_runs_and_logs_sweep_metric(name, tmp_path):
    pytest.importorskip("sweeps")
    cfg = sweeps.load_sweep(os.path.join(SWEEP_DIR, name))
    # tiny budget as constant sweep parameters, except what the sweep itself varies
    constants = {}
    for o in SMALL:
        key, value = o.split("=", 1)
        if key not in cfg["parameters"]:
            constants[key] = yaml.safe_load(value)
    # W&B's engine draws parameter sets (seed 0, 1, ...); the first that fits the tiny budget's
    # compiled program is run (any other draw would only add a compilation)
    for seed in range(1000):
        params = sweeps.sample_parameters(cfg, seed=seed, constants=constants)
        if all(params.get(k, {"value": v})["value"] == v for k, v in TINY_PROGRAM.items()):
            break
    else:
        pytest.fail("no sampled parameter set fits the tiny budget")
    sweep_id, run_id = "testsweep", "testrun01"
    command, env = sweeps.agent_command(cfg, params, sweep_id=sweep_id, run_id=run_id, wandb_dir=str(tmp_path))

    # what wandb's agent code built: the sweep's command with the macros expanded
    assert command[:4] == ["/usr/bin/env", "python", "-m", "policysearch.train"]
    assert command[-len(params):] == [f"{k}={v['value']}" for k, v in params.items()]
    assert env["WANDB_SWEEP_ID"] == sweep_id and env["WANDB_RUN_ID"] == run_id
    assert os.path.exists(env["WANDB_SWEEP_PARAM_PATH"])

    env.update(WANDB_MODE="offline", WANDB_SILENT="true",
               PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""))  # "python"
    r = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    run_dir = tmp_path / "outputs" / "sweeps" / sweep_id / run_id
    summary, config = _summary(run_dir), _config(run_dir)
    for key, v in params.items():  # the sampled values reached the run
        if key in ("strategy", "env"):
            group = _select(config, key)
            assert v["value"] in (group["name"], group.get("short_name")), key
        else:
            assert _select(config, key) == v["value"], key
    assert config["logger"]["mode"] == "offline"

    logged = sweeps.read_wandb_offline_run(str(run_dir))
    assert logged["sweep_id"] == sweep_id and logged["run_id"] == run_id
    assert logged["summary"]["sweep_metric"] == pytest.approx(sweep_metric(summary))
    assert all(logged["config"][k] == v["value"] for k, v in params.items())


def test_wandb_command_cli(tmp_path):
    pytest.importorskip("sweeps")
    path = os.path.join(SWEEP_DIR, "wandb_strategy_grid.yaml")
    r = subprocess.run([sys.executable, "-m", "policysearch.sweeps", "wandb-command", path, "generations=3",
                        "--seed", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip().splitlines()[-1]
    assert line.startswith("/usr/bin/env python -m policysearch.train logger=wandb") and "generations=3" in line
    assert "strategy=" in line and "seed_offset=" in line
    r = subprocess.run([sys.executable, "-m", "policysearch.sweeps", "wandb-command", str(tmp_path / "no.yaml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("error:")


# --------------------------------------------------------------------------------------------
# local sweeps: Hydra multirun, Optuna, Ray
# --------------------------------------------------------------------------------------------
def test_local_multirun_and_collect(tmp_path):
    sweep_dir = tmp_path / "multirun"
    r = _train(["-m", "+sweep=local", "strategy=sv_cma_es,mp_cma_es", *SMALL, f"hydra.sweep.dir={sweep_dir}"],
               cwd=tmp_path)
    runs = sweeps.find_run_dirs([sweep_dir])
    assert runs == [str(sweep_dir / "0"), str(sweep_dir / "1")], r.stdout[-2000:]
    assert [_summary(d)["strategy"] for d in runs] == ["sv_cma_es", "mp_cma_es"]
    assert all(_config(d)["out_dir"] == d for d in runs)

    out = tmp_path / "collected"
    c = subprocess.run([sys.executable, "-m", "policysearch.sweeps", "collect", str(sweep_dir), "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert c.returncode == 0, c.stderr[-3000:]
    for name in ("sweep_results.md", "sweep_results.csv", "sweep_results.json", "index.html", "report.md",
                 "comparison.json"):
        assert (out / name).exists(), name
    table = json.loads((out / "sweep_results.json").read_text())["runs"]
    metrics = {os.path.join(str(sweep_dir), row["run"]): row["sweep_metric"] for row in table}
    assert metrics == {d: pytest.approx(sweep_metric(_summary(d))) for d in runs}
    assert [row["rank"] for row in table] == [1, 2] and table[0]["sweep_metric"] >= table[1]["sweep_metric"]
    assert {row["strategy.name"] for row in table} == {"sv_cma_es", "mp_cma_es"}  # the varied key
    assert "| rank | run |" in (out / "sweep_results.md").read_text()
    comparison = json.loads((out / "comparison.json").read_text())
    assert len(comparison["runs"]) == 2
    bad = subprocess.run([sys.executable, "-m", "policysearch.sweeps", "collect", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_optuna_sweep_maximises_returned_metric(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    sweep_dir = tmp_path / "optuna"
    # static choices pinned (one compiled program); Optuna searches alpha and kernel_std
    _train(["-m", "+sweep=optuna_sv_cma_es_mountaincar", "hydra.sweeper.n_trials=2", *SMALL,
            "strategy.bandwidth=median", "strategy.schedule=linear", f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path)
    runs = sweeps.find_run_dirs([sweep_dir])
    assert len(runs) == 2
    with open(sweep_dir / "optimization_results.yaml") as f:
        result = yaml.safe_load(f)
    values = [sweep_metric(_summary(d)) for d in runs]
    assert result["best_value"] == pytest.approx(max(values))
    assert set(result["best_params"]) == {"strategy.alpha", "strategy.kernel_std"}
    best = runs[values.index(max(values))]
    assert _config(best)["strategy"]["alpha"] == pytest.approx(result["best_params"]["strategy.alpha"])
    for d in runs:
        s = _config(d)["strategy"]
        assert 0.03 <= s["alpha"] <= 30 and 0.1 <= s["kernel_std"] <= 10 and s["bandwidth"] == "median"
    paths = sweeps.collect([sweep_dir], str(tmp_path / "table"), report=False)
    md = open(next(p for p in paths if p.endswith(".md"))).read()
    assert "optimization_results.yaml" in md and "strategy.alpha" in md


def test_ray_launcher_on_local_two_worker_instance(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher")
    sweep_dir = tmp_path / "ray"
    # the launch starts a local Ray instance with 2 CPUs (2 parallel workers) and stops it at exit
    r = _train(["-m", "+sweep=ray", "hydra.launcher.ray.init.num_cpus=2", "seed_offset=0,2", *SMALL,
                f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, timeout=400, RAY_DISABLE_USAGE_STATS="1")
    runs = sweeps.find_run_dirs([sweep_dir])
    assert len(runs) == 2, r.stdout[-3000:] + r.stderr[-3000:]
    assert [[s["seed"] for s in _summary(d)["seeds"]] for d in runs] == [[0, 1], [2, 3]]
    workers = {line.split("pid=")[1].split(")")[0] for line in (r.stdout + r.stderr).splitlines()
               if "_run_job pid=" in line}
    assert len(workers) == 2, workers  # two Ray worker processes ran the jobs
