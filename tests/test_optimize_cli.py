"""The optimisation CLI (python -m policysearch.optimize): run directory, regret bookkeeping and
one-line errors for bad input."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import cli, compose_cfg


def test_cli_writes_regret_json_and_figure(tmp_path, capsys):
    out = tmp_path / "run"
    r = cli("policysearch.optimize", ["function=ackley", "dim=3", "evaluations=400", "folds=2",
                                      "progress_updates=2", "shift=2.0", f"out_dir={out}"])
    assert r.returncode == 0, r.stderr[-2000:]
    for f in ("config.yaml", "regret.json", "regret.png"):
        assert (out / f).exists(), f
    s = json.loads((out / "regret.json").read_text())
    assert s["function"] == "ackley" and s["strategy"] == "gennes" and s["gradients"] is True
    assert s["evaluations"] == 400 and s["generations"] == 20 and s["init"] == "center"
    ev = s["curve"]["evaluations"]
    assert ev[0] == 20 and ev[-1] == 400 and np.all(np.diff(ev) > 0)
    per_fold = np.asarray(s["curve"]["per_fold"])
    assert per_fold.shape == (2, len(ev)) and np.all(np.diff(per_fold, axis=1) <= 0)   # best so far
    assert s["regret_at"]["100"]["per_fold"] == pytest.approx(per_fold[:, ev.index(100)].tolist())
    # the final regret is f at the reported best point with the fold's translation (|t| <= 2)
    from policysearch.density import make_target

    t = np.asarray(s["translations"])
    assert t.shape == (2, 3) and np.all(np.abs(t) <= 2.0)
    f = make_target("ackley", dim=3)
    got = jax.vmap(f.value)(jnp.asarray(s["best_solution"]), jnp.asarray(t, jnp.float32))
    np.testing.assert_allclose(np.asarray(got), s["final_regret"]["per_fold"], rtol=1e-5, atol=1e-6)
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["final_regret_mean"] == pytest.approx(s["final_regret"]["mean"])
    # a finished run directory is not overwritten
    from policysearch.optimize import main

    with pytest.raises(SystemExit) as e:
        main(compose_cfg(["dim=3", "evaluations=40", f"out_dir={out}"], config_name="optimize"))
    assert e.value.code == 2 and json.loads((out / "regret.json").read_text()) == s
    assert capsys.readouterr().err.startswith(f"error: out_dir='{out}' already holds a finished run")


@pytest.mark.parametrize("overrides, message", [
    (["function=nope"], "function='nope' is unknown; allowed: rastrigin, ackley"),
    (["dim=0"], "dim=0 is invalid: must be an integer >= 1"),
    (["dim=-2"], "dim=-2 is invalid"),
    (["function=step"], "strategy 'gennes' needs gradients but function='step' is not differentiable"),
    (["function=step", "strategy=svgd", "strategy.source=autodiff"], "strategy 'svgd' needs gradients"),
    (["evaluations=10"], "evaluations=10 is below one generation (20 evaluations)"),
    (["folds=0"], "folds=0 is invalid"),
    (["shift=5.0"], "shift=5.0 is invalid for rastrigin"),
    (["init=edge"], "init='edge' is invalid; allowed: auto, center, uniform"),
    (["strategy.learning_rate=0"], "learning_rate=0"),
    (["strategy.anneal=fast"], "strategy.anneal='fast' is invalid: must be a number in (0, 1] or 'budget'"),
    (["strategy.anneal=1.5"], "strategy.anneal=1.5 is invalid: must be in (0, 1]"),
    (["strategy=cma_es", "init_std=-1"], "init_std=-1 is invalid"),
])
def test_bad_input_is_one_error_line_exit_2(tmp_path, capsys, overrides, message):
    from policysearch.optimize import main

    ov = [*overrides, f"out_dir={tmp_path / 'x'}"]
    with pytest.raises(SystemExit) as e:
        main(compose_cfg(ov, config_name="optimize"))
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert message in err, err
    assert not (tmp_path / "x" / "regret.json").exists()


def test_cli_unknown_strategy_is_one_line(tmp_path):
    r = cli("policysearch.optimize", ["strategy=nope", f"out_dir={tmp_path}"])
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "gennes" in r.stderr and "cma_es" in r.stderr


def test_gradient_free_and_autodiff_strategies_run_in_process(tmp_path):
    from policysearch.optimize import run

    for ov in (["strategy=cma_es", "function=step"],
               ["strategy=svgd", "strategy.source=autodiff", "function=alpine1"]):
        ov = [*ov, "dim=2", "evaluations=200", "folds=2", "progress=false", "figures=false",
              f"out_dir={tmp_path / ov[0].split('=')[1]}"]
        s = run(compose_cfg(ov, config_name="optimize"), ov)
        assert s["evaluations"] == 200 and s["folds"] == [0, 1] and s["init"] == "uniform"
        assert np.all(np.isfinite(s["final_regret"]["per_fold"]))
        assert s["final_regret"]["mean"] <= s["curve"]["mean"][0]
    assert s["num_particles"] == 20 and s["pop_size"] == 1 and s["gradients"] is True


def test_gennes_is_refused_by_train_and_sample_in_one_line(tmp_path, capsys):
    from policysearch.config import ConfigError, build
    from policysearch.sample import main

    with pytest.raises(ConfigError, match="strategy 'gennes' needs gradients of the objective and episode returns"):
        build(compose_cfg(["strategy=gennes", f"out_dir={tmp_path / 't'}"]))   # train's validation
    with pytest.raises(SystemExit) as e:
        main(compose_cfg(["target=rastrigin", "strategy=gennes", "ground_truth.enabled=false",
                          f"out_dir={tmp_path / 's'}"], config_name="sample"))
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: ") and "gennes is an optimiser, not a sampler" in err, err
