"""The main job end to end: run directory, determinism, kill and resume, errors, W&B offline."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import ROOT, TINY, cli, compose_cfg, run_train
from policysearch.config import ConfigError


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("tiny") / "run")
    summary = run_train(TINY + [f"out_dir={out}"])
    return out, summary


def _metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_run_directory_contract(tiny_run):
    out, summary = tiny_run
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "policies/policy.json",
                 "policies/seed_0.npz", "policies/seed_1.npz", "checkpoints"):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "summary.json")) as f:
        on_disk = json.load(f)
    assert on_disk["env"] == "MountainCarContinuous-v0" and on_disk["strategy"] == "sv_cma_es"
    assert on_disk["wall_time_s"] > 0
    assert [s["seed"] for s in on_disk["seeds"]] == [0, 1]
    for s in on_disk["seeds"]:
        assert {"seed", "best_return", "solved", "first_solved_generation"} <= set(s)
        assert s["solved"] == (s["best_return"] >= 90.0)
    rows = _metrics(out)
    assert len(rows) == 2 * 4  # seeds x generations
    need = {"generation", "evaluations", "best_return", "mean_return", "median_return", "best_so_far",
            "sigma_mean", "sigma_min", "sigma_max", "diversity_mean_pairwise", "nan_count"}
    assert need <= set(rows[0])
    seed0 = [r for r in rows if r["seed"] == 0]
    assert [r["generation"] for r in seed0] == [1, 2, 3, 4]
    assert [r["evaluations"] for r in seed0] == [16, 32, 48, 64]
    best = [r["best_so_far"] for r in seed0]
    assert best == sorted(best) and best[-1] == max(r["best_return"] for r in seed0)
    assert all(r["sigma_min"] <= r["sigma_mean"] <= r["sigma_max"] for r in rows)
    assert all(r["diversity_mean_pairwise"] > 0 for r in rows)


def test_same_config_same_numbers(tiny_run, tmp_path):
    out, _ = tiny_run
    run_train(TINY + [f"out_dir={tmp_path / 'again'}"])
    assert _metrics(out) == _metrics(tmp_path / "again")


def test_seed_means_the_same_run_with_other_seeds_beside_it(tiny_run, tmp_path):
    out, _ = tiny_run
    run_train([o for o in TINY if not o.startswith("seeds=")] + ["seeds=1", "seed_offset=1",
                                                                   f"out_dir={tmp_path / 'one'}"])
    alone = _metrics(tmp_path / "one")
    beside = [r for r in _metrics(out) if r["seed"] == 1]
    for a, b in zip(alone, beside):
        assert a["generation"] == b["generation"]
        np.testing.assert_allclose(a["best_so_far"], b["best_so_far"], rtol=1e-4)


def test_load_policy_from_bare_run_directory(tiny_run, tmp_path):
    import policysearch

    out, _ = tiny_run
    bare = tmp_path / "bare"
    shutil.copytree(os.path.join(out, "policies"), bare / "policies")
    best = policysearch.load_policy(str(bare), seed=1, which="best")
    obs = np.array([-0.5, 0.01], np.float32)
    a = best(obs)
    assert isinstance(a, np.ndarray) and a.shape == (1,) and -1.0 <= a[0] <= 1.0
    assert best(np.stack([obs, obs])).shape == (2, 1)
    parts = policysearch.load_policy(str(bare), seed=1, which="particles")
    assert parts(obs).shape == (4, 1)
    data = np.load(bare / "policies" / "seed_1.npz")
    from policysearch.export import load_params

    policy, _, _ = load_params(str(bare), 1)
    np.testing.assert_allclose(a, np.asarray(policy.act(data["best"], obs)), rtol=1e-6)
    with pytest.raises(ValueError, match="seed 7 not in run"):
        policysearch.load_policy(str(bare), seed=7)
    with pytest.raises(ValueError, match="which must be one of"):
        policysearch.load_policy(str(bare), seed=0, which="worst")


def test_evaluate_backends_agree(tiny_run):
    from policysearch.evaluate import evaluate_run, episode_returns_gymnasium, episode_returns_jax
    from policysearch.export import load_params, make_policy_fn
    from scipy import stats

    import envs

    out, _ = tiny_run
    res = evaluate_run(out, episodes=5, backend="jax")
    assert res["backend"] == "jax" and len(res["seeds"]) == 2
    assert os.path.exists(os.path.join(out, "evaluation_jax.json"))
    policy, arrays, _ = load_params(out, 0)
    env = envs.make("mountaincar")
    ours = episode_returns_jax(env, policy, arrays["best"], arrays, 40, seed=1)
    gym = episode_returns_gymnasium(env.gym_id, make_policy_fn(policy, arrays["best"], arrays), 40, seed=1)
    assert stats.ks_2samp(ours, gym).pvalue > 1e-3
    assert abs(ours.mean() - gym.mean()) < 4 * np.sqrt(ours.var() / 40 + gym.var() / 40) + 1e-3
    res = evaluate_run(out, episodes=3, backend="gymnasium")
    assert res["backend"] == "gymnasium" and all(s["episodes"] == 3 for s in res["seeds"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("seeds=0", "seeds=0 is invalid: must be an integer >= 1"),
        ("generations=0", "generations=0 is invalid"),
        ("generations=-3", "generations=-3 is invalid"),
        ("episodes=0", "episodes=0 is invalid"),
        ("strategy.num_particles=1", "num_particles=1 is invalid"),
        ("strategy.pop_size=0", "pop_size=0 is invalid"),
        ("strategy.sigma_init=0", "sigma_init=0"),
        ("strategy.sigma_init=-1.0", "sigma_init=-1.0"),
        ("+strategy.nonsense=3", "unknown option"),
        ("env.name=Nope-v9", "unknown env 'Nope-v9'"),
        ("policy.hidden_sizes=[0]", "hidden_sizes"),
        ("policy.activation=wiggle", "unknown activation 'wiggle'"),
        ("resume=/nonexistent/run", "resume directory '/nonexistent/run' does not exist"),
    ],
)
def test_bad_input_is_one_clear_error_before_compilation(override, message, monkeypatch, tmp_path):
    import policysearch.runner

    def no_compile(*a, **k):
        raise AssertionError("compilation started before validation")

    monkeypatch.setattr(policysearch.runner, "make_runner", no_compile)
    with pytest.raises(ConfigError) as err:
        run_train(TINY + [f"out_dir={tmp_path / 'x'}", override])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_cli_errors_exit_nonzero_with_one_line(tmp_path):
    r = cli("policysearch.train", ["strategy.sigma_init=0", f"out_dir={tmp_path}/r"])
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "sigma_init" in r.stderr
    r = cli("policysearch.train", ["strategy=nope"])
    assert r.returncode != 0 and "nope" in r.stderr and "sv_cma_es" in r.stderr
    r = cli("policysearch.train", ["--help"])
    assert r.returncode == 0 and "strategy: " in r.stdout and "env: " in r.stdout


def test_kill_and_resume_equals_uninterrupted_run(tmp_path):
    """SIGKILL a real training subprocess after a checkpoint, resume it, compare with a full run."""
    args = [o for o in TINY if not o.startswith(("generations=", "chunk="))] + [
        "generations=12", "chunk=1", "seeds=2"]
    full = tmp_path / "full"
    assert cli("policysearch.train", args + [f"out_dir={full}"]).returncode == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "policysearch.train", *args, f"out_dir={killed}"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    ck = killed / "checkpoints"
    while time.time() < deadline:
        steps = [int(p) for p in os.listdir(ck) if p.isdigit()] if ck.exists() else []
        if steps and max(steps) >= 3 or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists(), "run finished before it could be killed"
    r = cli("policysearch.train", [f"resume={killed}", "progress=false"])
    assert r.returncode == 0, r.stderr
    assert _metrics(killed) == _metrics(full)
    for s in (0, 1):
        a, b = np.load(killed / "policies" / f"seed_{s}.npz"), np.load(full / "policies" / f"seed_{s}.npz")
        assert "archive_fitnesses" in a.files and a.files == b.files  # the QD archive resumes too
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_resume_rejects_incompatible_config_and_corrupt_checkpoint(tiny_run, tmp_path):
    out, _ = tiny_run
    with pytest.raises(ConfigError, match="cannot change 'strategy.num_particles'"):
        run_train([f"resume={out}", "strategy.num_particles=8"])
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    steps = sorted(int(p) for p in os.listdir(broken / "checkpoints") if p.isdigit())
    for root, _, files in os.walk(broken / "checkpoints" / str(steps[-1])):
        for name in files:
            with open(os.path.join(root, name), "wb") as f:
                f.write(b"garbage")
    r = cli("policysearch.train", [f"resume={broken}", "generations=6", "progress=false"])
    assert r.returncode == 2 and "corrupt" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_refuses_to_overwrite_a_finished_run(tiny_run):
    out, _ = tiny_run
    with pytest.raises(ConfigError, match="already holds a finished run"):
        run_train(TINY + [f"out_dir={out}"])


def test_wandb_offline_logs_and_failures_never_stop_training(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    out = tmp_path / "wb"
    run_train(TINY + ["generations=2", "logger=wandb", f"out_dir={out}"])
    runs = [p for p in os.listdir(out / "wandb") if p.startswith("offline-run")]
    assert runs, os.listdir(out / "wandb")
    import wandb

    def broken(*a, **k):
        raise RuntimeError("no W&B today")

    monkeypatch.setattr(wandb, "init", broken)
    summary = run_train(TINY + ["generations=2", "logger=wandb", f"out_dir={tmp_path / 'wb2'}"])
    assert len(summary["seeds"]) == 2


def test_run_that_cannot_fit_fails_early_with_the_figure(monkeypatch, tmp_path):
    from policysearch import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 10**9)
    with pytest.raises(ConfigError, match=r"needs about .* GB for covariance matrices .* use fewer seeds"):
        run_train(TINY + [f"out_dir={tmp_path / 'big'}", "policy.hidden_sizes=[256,256]"])
    assert memory.largest_dim_per_gb() == 1767
