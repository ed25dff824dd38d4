"""The bench (`python -m policysearch.bench`): aggregation by hand, the smoke suite end to end
through the CLI, reuse and resume of cells, bad input."""

import json
import os
import re

import numpy as np
import pytest

from helpers import CONFIG_DIR, cli
from policysearch.bench import aggregate as A
from policysearch.cli import UsageError

SMOKE = ["suite=smoke", "strategies=[sv_cma_es,open_es]", "bootstrap_reps=200", "progress=false"]


def compose_bench(overrides):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="bench", overrides=list(overrides))


# ---------------------------------------------------------------------------------------------
# aggregation against hand computations
# ---------------------------------------------------------------------------------------------
def test_point_estimates_by_hand_and_deterministic_cis():
    x = np.arange(16, dtype=float).reshape(8, 2) / 10  # 8 runs x 2 tasks: 0.0 .. 1.5
    flat = np.sort(x.ravel())
    hand = {"IQM": flat[4:12].mean(),  # middle half of 16 scores
            "Mean": x.mean(axis=0).mean(),
            "Median": np.median(x.mean(axis=0)),
            "Optimality Gap": np.mean(1 - np.minimum(x, 1))}
    out = A.interval_estimates({"a": x}, reps=300, seed=0)["a"]
    for m, v in hand.items():
        assert out[m]["point"] == pytest.approx(v)
        assert out[m]["ci"][0] <= out[m]["point"] <= out[m]["ci"][1]
    assert A.interval_estimates({"a": x}, reps=300, seed=0)["a"] == out  # fixed seed: identical
    # a strategy's CI does not depend on the other strategies in the bench
    assert A.interval_estimates({"b": x[::-1], "a": x}, reps=300, seed=0)["a"] == out


def test_fast_statistics_equal_rliables():
    from rliable import library as rly, metrics

    rng = np.random.default_rng(0)
    x, y = np.round(rng.random((7, 3)), 1), np.round(rng.random((9, 3)), 1)  # ties on purpose
    assert A.improvement_probability(x, y) == pytest.approx(metrics.probability_of_improvement(x, y))
    assert A.improvement_probability(x, x) == 0.5
    taus = np.linspace(-0.1, 1.1, 13)
    np.testing.assert_allclose(A.score_distribution(x, taus), rly.score_distributions(x, taus))
    poi = A.probability_of_improvement({"a": x[:7], "b": y[:7]}, "a", reps=200, seed=1)["a,b"]
    assert poi["ci"][0] <= poi["point"] <= poi["ci"][1]


def test_wilson_interval_and_normalisation_by_formula():
    k, n, z = 7, 20, 1.959963984540054
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert A.wilson_interval(k, n) == pytest.approx((centre - half, centre + half))
    assert A.wilson_interval(7, 20) == pytest.approx((0.1812, 0.5671), abs=1e-4)  # textbook value
    assert A.wilson_interval(0, 2)[0] == 0.0 and A.wilson_interval(2, 2)[1] == 1.0
    np.testing.assert_allclose(A.normalise([-1200.0, -200.0, -700.0], -1200.0, -200.0), [0.0, 1.0, 0.5])


# ---------------------------------------------------------------------------------------------
# the smoke suite end to end
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bench") / "smoke")
    proc = cli("policysearch.bench", SMOKE + [f"out_dir={out}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _summaries(out):
    paths = sorted(os.path.join(r, f) for r, _, fs in os.walk(os.path.join(out, "cells"))
                   for f in fs if f == "summary.json")
    return {p: os.stat(p).st_mtime_ns for p in paths}


def _results(out):
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


def test_smoke_outputs(smoke):
    for name in ("results.json", "table.md", "index.html", "bench.yaml", "interval_estimates.png",
                 "performance_profiles.png", "probability_of_improvement.png"):
        assert os.path.exists(os.path.join(smoke, name)), name
    r = _results(smoke)
    assert r["envs"] == ["cartpole", "mountaincar_discrete"] and r["strategies"] == ["sv_cma_es", "open_es"]
    assert r["layouts"] == {"sv_cma_es": [2, 4], "open_es": [1, 8]}
    for env in r["envs"]:
        zero = r["normalisation"][env]["zero"]
        inits = [s["initial_return"] for st in r["strategies"] for s in r["cells"][env][st]["seeds"]]
        assert zero == pytest.approx(np.mean(inits))  # 0 = the initial policies of this env
        for st in r["strategies"]:
            cell = r["cells"][env][st]
            assert os.path.exists(os.path.join(smoke, cell["run_dir"], "report", "diversity.json"))
            assert not any(f.endswith(".png") for f in os.listdir(os.path.join(smoke, cell["run_dir"], "report")))
            assert [s["seed"] for s in cell["seeds"]] == [0, 1]
            for s in cell["seeds"]:
                assert s["score"] == pytest.approx((s["best_return"] - zero) / (r["normalisation"][env]["one"] - zero))
                assert s["behaviours"] >= 1 and s["behaviours_solving"] >= 0
                assert s["coverage"] > 0 and s["qd_score"] >= 0 and s["solving_cells"] >= 0
            qd = cell["summary"]["qd"]  # mean [CI] over the seeds of the archives' QD metrics
            for key in ("qd_score", "coverage", "max_fitness", "solving_cells"):
                values = [s[key] for s in cell["seeds"]]
                assert qd[key]["point"] == pytest.approx(np.mean(values))
                assert min(values) - 1e-9 <= qd[key]["ci"][0] <= qd[key]["point"] <= qd[key]["ci"][1] <= max(values) + 1e-9
            assert cell["summary"]["evaluations_per_generation"] == 8 and cell["summary"]["generations"] == 2
    scores = np.array(r["scores"]["open_es"])
    assert scores.shape == (2, 2)
    assert r["aggregates"]["open_es"]["Mean"]["point"] == pytest.approx(scores.mean())
    assert list(r["probability_of_improvement"]) == ["sv_cma_es,open_es"]
    with open(os.path.join(smoke, "table.md")) as f:
        table = f.read()
    assert "IQM" in table and "cartpole" in table and "behaviours solving" in table
    assert "quality-diversity" in table and "QD-score" in table


def _drop_timings(r):
    for env in r["cells"].values():
        for cell in env.values():
            for key in ("wall_time_s", "train_s", "report_s"):
                cell["summary"].pop(key, None)
    return r


def test_rerun_reuses_cells_and_resumes_an_unfinished_one(smoke):
    from policysearch.bench import run_bench

    before, results = _summaries(smoke), _results(smoke)
    # a cell saved before a config key existed (here early_stop_behaviours) still matches when the
    # bench wants that key's default
    old_cell = os.path.join(smoke, "cells", "cartpole", "sv_cma_es", "config.yaml")
    with open(old_cell) as f:
        text = f.read()
    assert "early_stop_behaviours: 0\n" in text
    with open(old_cell, "w") as f:
        f.write(text.replace("early_stop_behaviours: 0\n", ""))
    run_bench(compose_bench(SMOKE + [f"out_dir={smoke}"]))
    assert _summaries(smoke) == before  # no cell ran again
    assert _results(smoke) == results  # and the aggregation is deterministic
    # a cell killed before its summary: resumed from its last checkpoint, same numbers
    killed = sorted(before)[0]
    os.remove(killed)
    resume = ["resume=" + smoke, "progress=false"]
    run_bench(compose_bench(resume), resume)
    after = _summaries(smoke)
    assert after[killed] != before[killed]
    assert {p: t for p, t in after.items() if p != killed} == {p: t for p, t in before.items() if p != killed}
    assert _drop_timings(_results(smoke)) == _drop_timings(results)
    with pytest.raises(UsageError, match="cannot change 'seeds' when resuming"):
        run_bench(compose_bench(resume + ["seeds=3"]), resume + ["seeds=3"])


# ---------------------------------------------------------------------------------------------
# bad input: one line, before anything compiles
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides, message", [
    (["strategies=[sv_cma_es,foo]"], "unknown strategy 'foo'; allowed strategies: sv_cma_es, open_es, svgd"),
    (["envs=[acrobot]"], "unknown env 'acrobot'; allowed envs: cartpole, mountaincar_discrete"),
    (["seeds=0"], "seeds=0 is invalid: must be an integer >= 1"),
    (["suite.strategies.open_es.pop_size=4"], "strategy 'open_es': layout 1 x 4 = 4 evaluations per generation, "
                                             "but suite 'smoke' gives every strategy 8"),
    (["+suite.train.no_such_key=1"], "cannot set no_such_key=1"),
])
def test_bad_input_is_a_usage_error(overrides, message, tmp_path):
    from policysearch.bench.suite import plan

    with pytest.raises(UsageError, match=re.escape(message)):
        plan(compose_bench(["suite=smoke", f"out_dir={tmp_path}", *overrides]))


def test_cli_errors_are_one_line_with_exit_2(smoke, tmp_path):
    proc = cli("policysearch.bench", ["suite=nope", f"out_dir={tmp_path}"])
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "allowed" in proc.stderr and "smoke" in proc.stderr
    # a bench directory holding cells of another config: refused before any cell runs
    proc = cli("policysearch.bench", SMOKE + [f"out_dir={smoke}", "seeds=3"])
    assert proc.returncode == 2 and "was run with another config (seeds: 2 -> 3)" in proc.stderr
    assert proc.stderr.count("\n") == 1
