"""policysearch.report on small fixture run directories (written here per the run-directory
contract of docs/architecture.md, with hand-made MountainCar policies of known behaviour)."""

import json
import os
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

import envs
from policysearch.export import save_policies
from policysearch.policy import MLPPolicy

THRESHOLD = 90.0


# ---------------------------------------------------------------------------- fixtures
def _zero_tree(policy):
    return jax.tree.map(lambda a: np.zeros_like(np.asarray(a)), policy.init_params(jax.random.PRNGKey(0)))


def pump_policy(policy, key):
    """a = tanh(3 tanh(100 v)): push along the velocity (solves MountainCar in ~100-200 steps)."""
    tree = _zero_tree(policy)
    tree["params"]["Dense_0"]["kernel"][1, 0] = 100.0
    tree["params"]["Dense_1"]["kernel"][0, 0] = 3.0
    flat = np.asarray(policy.flatten(tree))
    return (flat + 1e-3 * np.random.default_rng(key).standard_normal(flat.shape)).astype(np.float32)


def constant_policy(policy, action, key):
    tree = _zero_tree(policy)
    tree["params"]["Dense_1"]["bias"][0] = np.arctanh(action)
    flat = np.asarray(policy.flatten(tree))
    return (flat + 1e-3 * np.random.default_rng(key).standard_normal(flat.shape)).astype(np.float32)


def make_run(run_dir, env_name="mountaincar", seeds=(0, 1), particles=6, generations=4,
             strategy="sv_cma_es", threshold=THRESHOLD):
    """A finished run directory: config.yaml, metrics.jsonl, summary.json, policies/.

    MountainCar particles cycle through three behaviours: pump (solves), constant push left
    (fails, oscillates), random Flax initialisation. Other envs: random initialisations.
    """
    env = envs.make(env_name)
    policy = MLPPolicy.for_env(env, hidden_sizes=(16,))
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "config.yaml"), "w") as f:
        f.write(f"env:\n  name: {env_name}\n  short_name: {env_name}\n  solve_threshold: {threshold}\n"
                f"strategy:\n  name: {strategy}\nseeds: {len(seeds)}\n")
    rows, per_seed, exported = [], [], []
    for s in seeds:
        parts = []
        for i in range(particles):
            key = 100 * s + i
            kind = i % 3 if env_name == "mountaincar" else 2
            if kind == 0:
                parts.append(pump_policy(policy, key))
            elif kind == 1:
                parts.append(constant_policy(policy, -0.9, key))
            else:
                parts.append(np.asarray(policy.init_flat(jax.random.PRNGKey(key))))
        parts = np.stack(parts)
        best_so_far, first = -50.0, None
        for g in range(1, generations + 1):
            best = -50.0 + g * (40.0 if s == 0 else 10.0)
            best_so_far = max(best_so_far, best)
            if first is None and best >= threshold:
                first = g
            rows.append({"seed": s, "generation": g, "evaluations": g * particles * 4, "best_return": best,
                         "mean_return": best - 20, "median_return": best - 15, "best_so_far": best_so_far,
                         "sigma_mean": 0.1, "sigma_min": 0.05, "sigma_max": 0.2,
                         "diversity_mean_pairwise": 1.0, "nan_count": 0})
        per_seed.append({"seed": s, "best_return": best_so_far, "solved": best_so_far >= threshold,
                         "first_solved_generation": first, "train_best_return": best_so_far,
                         "best_source": "particle_0", "particle_returns": [0.0] * particles,
                         "evaluations": generations * particles * 4, "nan_count": 0})
        exported.append({"seed": s, "best": parts[0], "particles": parts,
                         "obs_mean": np.zeros(env.observation_size, np.float32),
                         "obs_var": np.ones(env.observation_size, np.float32), "obs_count": np.float32(0.0),
                         "best_return": best_so_far})
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    save_policies(run_dir, env_name, policy, exported)
    summary = {"env": env_name, "strategy": strategy, "wall_time_s": 1.0, "generations_run": generations,
               "stopped_early": False, "solve_threshold": threshold, "validation_episodes": 10,
               "solved_count": sum(p["solved"] for p in per_seed), "num_seeds": len(per_seed),
               "evaluations_per_generation": particles * 4, "seeds": per_seed}
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return str(run_dir)


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "run_a")


@pytest.fixture(scope="module")
def run_b(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "run_b", particles=1, strategy="cma_es", seeds=(0, 1, 2))


@pytest.fixture(scope="module")
def report_a(run_a):
    from policysearch.report import write_report

    return write_report(run_a)


# ---------------------------------------------------------------------------- one run
def test_write_report_writes_linked_files(run_a, report_a):
    out = os.path.join(run_a, "report")
    assert all(isinstance(p, str) and os.path.exists(p) for p in report_a)
    names = {os.path.basename(p) for p in report_a}
    assert {"index.html", "report.md", "diversity.json", "learning_curves.png", "phase_plane.png",
            "observation_vs_time.png", "outcomes.png", "particle_returns.png"} <= names
    assert names == set(os.listdir(out))  # every file written is returned (for W&B artifacts)
    html = open(os.path.join(out, "index.html")).read()
    md = open(os.path.join(out, "report.md")).read()
    for png in (n for n in names if n.endswith(".png")):
        assert f'<img src="{png}"' in html and f"]({png})" in md
        size = os.path.getsize(os.path.join(out, png))
        assert 1000 < size < 200_000, (png, size)
        assert open(os.path.join(out, png), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert "Across seeds" in html and "Per seed" in html and "1/2" in html  # solved k/n


def test_report_metrics_on_known_behaviours(run_a, report_a):
    data = json.load(open(os.path.join(run_a, "report", "diversity.json")))
    assert data["strategy"] == "sv_cma_es" and data["num_particles"] == 6
    assert data["probe_states"].startswith("grid 9x9")
    s0, s1 = data["seeds"]
    for s in (s0, s1):
        assert s["particles_solving"] == 2  # the two pump particles, nothing else
        assert 3 <= s["behaviours"] <= 4  # pump, push-left, 2 random inits (1 or 2 behaviours)
        assert 2.5 < s["vendi_trajectories"] < 4.5 and 2.5 < s["vendi_actions"] < 5.0
        assert 1.0 < s["vendi_params"] <= 6.0
        assert s["params_min_pairwise"] < 0.1 < s["params_mean_pairwise"]
        assert len(s["particle_returns"]) == 6
        assert s["best_report_return"] > THRESHOLD  # particle 0 (pump) is the exported best
    assert s0["solved"] and s0["first_solved_generation"] == 4 and s0["evaluations_to_solve"] == 96
    assert not s1["solved"] and s1["first_solved_generation"] is None and s1["evaluations_to_solve"] is None
    agg = data["aggregate"]
    assert agg["solved_count"] == 1 and agg["num_seeds"] == 2 and agg["solved_fraction"] == 0.5
    assert agg["first_solved_generation"]["median"] == 4
    assert agg["behaviours"]["n"] == 2 and agg["vendi_params"]["q25"] <= agg["vendi_params"]["q75"]
    assert set(data["rules"]) >= {"probe_states", "behaviours", "params_vendi", "trajectories_vendi"}


def test_wandb_metrics(run_a, report_a):
    from policysearch.report import wandb_metrics

    m = wandb_metrics(run_a)
    assert m["report/solved_fraction"] == 0.5 and m["report/num_seeds"] == 2
    assert "report/vendi_trajectories/median" in m and "report/behaviours/q75" in m
    assert m["report/seed0/solved"] == 1 and "report/seed1/vendi_params" in m
    assert "report/seed1/first_solved_generation" not in m  # None values left out
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in m.values())
    assert wandb_metrics(os.path.dirname(run_a)) == {}  # no report there


def test_evaluation_files_are_reported(tmp_path):
    from policysearch.report import write_report

    run = make_run(tmp_path / "run", seeds=(3,), particles=3)
    for backend, mean in (("jax", 91.5), ("gymnasium", 92.25)):
        ev = {"backend": backend, "episodes": 10, "solve_threshold": THRESHOLD,
              "seeds": [{"seed": 3, "mean": mean, "std": 1.0, "min": 90.0, "max": 95.0,
                         "success_rate": 1.0, "episodes": 10}]}
        json.dump(ev, open(os.path.join(run, f"evaluation_{backend}.json"), "w"))
    write_report(run)
    data = json.load(open(os.path.join(run, "report", "diversity.json")))
    seed = data["seeds"][0]
    assert seed["eval_jax_mean"] == 91.5 and seed["eval_gymnasium_mean"] == 92.25
    assert data["evaluation_backends"] == ["gymnasium", "jax"]
    html = open(os.path.join(run, "report", "index.html")).read()
    assert "eval jax (mean)" in html and "92.25" in html


def test_generic_env_without_observation_box(tmp_path):
    from policysearch.report import write_report

    run = make_run(tmp_path / "cartpole", env_name="cartpole", seeds=(0,), particles=3, threshold=475.0)
    paths = write_report(run)
    names = {os.path.basename(p) for p in paths}
    assert "phase_plane.png" in names and "observation_vs_time.png" in names
    data = json.load(open(os.path.join(run, "report", "diversity.json")))
    assert "visited observations" in data["probe_states"] and data["num_probe_states"] == 64
    assert data["observation_names"][0] == "obs[0]" and len(data["trajectory_scale"]) == 4
    assert data["seeds"][0]["vendi_actions"] >= 1.0


# ---------------------------------------------------------------------------- CLI, comparison
def test_cli_one_dir_and_compare_two(run_a, run_b, report_a, tmp_path, capsys):
    from policysearch.report.__main__ import main

    assert main([run_b]) == 0
    assert "report:" in capsys.readouterr().out
    assert os.path.exists(os.path.join(run_b, "report", "index.html"))
    single = json.load(open(os.path.join(run_b, "report", "diversity.json")))
    assert single["seeds"][0]["vendi_params"] == 1.0 and single["seeds"][0]["params_mean_pairwise"] is None

    stamp = os.path.getmtime(os.path.join(run_a, "report", "diversity.json"))
    out = tmp_path / "cmp"
    assert main([run_a, run_b, "--out", str(out)]) == 0
    # fresh per-run reports are reused, not recomputed
    assert os.path.getmtime(os.path.join(run_a, "report", "diversity.json")) == stamp
    names = set(os.listdir(out))
    assert {"index.html", "report.md", "comparison.json", "compare_curves.png", "compare_seeds.png",
            "compare_diversity.png"} <= names
    html = open(out / "index.html").read()
    for png in ("compare_curves.png", "compare_seeds.png", "compare_diversity.png"):
        assert f'<img src="{png}"' in html
    links = re.findall(r'<a href="([^"]+)">', html)
    assert len(links) == 2 and all(os.path.exists(os.path.join(out, link)) for link in links)
    comp = json.load(open(out / "comparison.json"))
    assert [r["strategy"] for r in comp["runs"]] == ["sv_cma_es", "cma_es"]
    assert comp["runs"][1]["aggregate"]["solved_count"] == 1 and comp["runs"][1]["aggregate"]["num_seeds"] == 3
    md = open(out / "report.md").read()
    assert "| sv_cma_es | mountaincar | 6 | 1/2 |" in md and "| cma_es | mountaincar | 1 | 1/3 |" in md


def test_cli_errors(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "policysearch.report", str(tmp_path / "nope")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    empty = subprocess.run([sys.executable, "-m", "policysearch.report", str(tmp_path)],
                           capture_output=True, text=True)
    assert empty.returncode == 2 and "not a finished run directory" in empty.stderr
