"""The BTGM CLI: a smoke run on the built-in 2-D case (flow and gradient-free) and the bad
inputs that must stop with one `error:` line and exit code 2 before any training."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import cli, compose_cfg

TINY = ["btgm=small", "btgm.tune.steps=300", "btgm.tune.chunk=150", "btgm.theory.n=4000",
        "btgm.theory.smc_n=300", "btgm.theory.betas=5", "btgm.curve_points=1",
        "btgm.search.max_iter=6", "samples=300", "progress=false"]


def test_cli_smoke_writes_the_run_directory(tmp_path):
    out = tmp_path / "run"
    r = cli("policysearch.btgm", ["case=gauss2d", "criterion=linear", "target_kl=0.8", *TINY,
                                  "btgm.search.beta0=3", f"out_dir={out}"])
    assert r.returncode == 0, r.stderr[-3000:]
    line = json.loads(r.stdout.strip().splitlines()[-1])
    assert line["case"] == "gauss2d" and line["method"] == "flow"
    for f in ("config.yaml", "estimates.json", "samples.npz", "curves.png", "samples.png",
              "grad_norms.png", "losses.png", "report.md", "index.html"):
        assert (out / f).exists(), f
    est = json.loads((out / "estimates.json").read_text())
    assert est["converged"] and len(est["search"]) >= 2          # started far off: beta0 = 3
    assert est["search"][0]["beta"] == pytest.approx(3.0 * est["normalization"]["scale"])
    assert est["search"][0]["rule"] in ("second-order", "bracket")
    fin = est["final"]
    assert abs(fin["empirical"]["kl"] - 0.8) <= est["search"][-1]["tolerance"]
    # the closed form of the mixture at the found beta agrees with the tuned model
    assert fin["exact"]["kl"] == pytest.approx(0.8, abs=0.2)
    assert fin["empirical"]["mean"] == pytest.approx(fin["exact"]["mean"], abs=0.2)
    assert fin["empirical"]["log_z"] == pytest.approx(fin["exact"]["log_z"], abs=0.1)  # raw f
    for row in est["rows"]:
        assert {"theory_is", "theory_smc", "exact", "empirical"} <= set(row)
        assert {"mean", "kl", "gap", "ess_flow"} <= set(row["empirical"])
        assert row["theory_is"]["ess"] > 0
    assert [r["beta"] for r in est["rows"]] == sorted(r["beta"] for r in est["rows"])
    z = np.load(out / "samples.npz")
    assert z["q"].shape == (300, 2) and z["f_q"].mean() > z["f_p"].mean() + 0.5
    assert "Estimates per beta" in (out / "report.md").read_text()
    assert "progress" not in r.stderr


def test_cli_gradient_free_for_a_thresholded_criterion(tmp_path):
    from policysearch.btgm.cli import run
    cfg = compose_cfg(["case=gauss2d", "criterion=threshold", "target_kl=0.3", *TINY,
                       "btgm.gradient_free.n=500", "figures=false", "btgm.theory.smc=false",
                       f"out_dir={tmp_path / 'gf'}"], config_name="btgm")
    s = run(cfg)
    assert s["method"] == "smc" and s["converged"]
    fin = s["final"]
    assert fin["empirical"]["kl"] == pytest.approx(0.3, abs=0.1)
    assert fin["exact"]["kl"] == pytest.approx(0.3, abs=0.1)
    assert fin["empirical"]["mean"] == pytest.approx(fin["exact"]["mean"], abs=0.05)
    assert s["gradient_norms"] is None                  # not differentiable: no assessment


def test_cli_progress_names_the_beta_being_trained(tmp_path, capsys):
    """Each search iteration's training lines carry that iteration's beta (they showed the
    previous one)."""
    import re

    from policysearch.btgm.cli import run
    cfg = compose_cfg(["case=gauss2d", "criterion=linear", "target_kl=0.8", *TINY,
                       "progress=true", "btgm.search.beta0=3", "btgm.curve_points=0",
                       "btgm.theory.smc=false", "figures=false", f"out_dir={tmp_path / 'p'}"],
                      config_name="btgm")
    run(cfg)
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("[btgm]")]
    trained, iters = [], 0
    for x in lines:
        step = re.match(r"\[btgm\] beta=(\S+) step", x)
        it = re.match(r"\[btgm\] search iter \d+: beta=(\S+) ", x)
        if step:
            trained.append(step.group(1))
        elif it:
            assert trained and set(trained) == {it.group(1)}, (trained, x)
            trained, iters = [], iters + 1
    assert iters >= 2
    assert lines[0].startswith("[btgm] beta=3 step")            # the first beta: beta0, not 0


@pytest.mark.parametrize("overrides,message", [
    (["case=nope", "target_kl=1"], "case='nope' is unknown; allowed: "),
    (["criterion=cubic", "target_kl=1"], "criterion='cubic' is unknown for case 'gauss2d'"),
    (["target_kl=-1"], "target_kl=-1 is invalid: must be >= 0"),
    (["beta=-0.5"], "beta=-0.5 is invalid: must be >= 0"),
    (["target_kl=1", "beta=1"], "give exactly one of target_kl, target_mean, beta"),
    (["criterion=quadratic", "target_mean=0.5"], "target_mean=0.5 is unreachable"),
    (["criterion=threshold", "target_kl=5"], "target_kl=5.0 is unreachable"),
    (["criterion=threshold", "method=flow", "target_kl=0.5"], "needs a differentiable"),
    (["method=newton", "target_kl=1"], "method='newton' is invalid"),
    (["btgm.tune.steps=0", "target_kl=1"], "btgm.tune.steps=0 is invalid"),
    (["btgm.flow.transformer=rnn", "target_kl=1"], "flow.transformer='rnn' is invalid"),
    (["case=nan_case", "criterion=broken", "target_kl=1"], "returned NaN or inf on"),
])
def test_cli_bad_input_is_refused_before_training(tmp_path, overrides, message):
    from policysearch.btgm import cli as cli_mod
    from policysearch.btgm.cases import CASES, Case, CaseModel, register
    from policysearch.btgm.latent import StandardNormal

    if "nan_case" not in CASES:
        register(Case("nan_case", lambda key, cfg: CaseModel(
            base=StandardNormal(2), criteria={"broken": lambda x: jnp.log(x[:, 0])}),
            criteria=("broken",), differentiable=frozenset({"broken"})))
    cfg = compose_cfg([*overrides, f"out_dir={tmp_path / 'bad'}"], config_name="btgm")
    with pytest.raises(cli_mod.BTGMConfigError, match=message.replace("(", r"\(")):
        cli_mod.run(cfg)
    assert not (tmp_path / "bad").exists()              # stopped before the run directory


def test_cli_error_is_one_line_and_exit_code_2(tmp_path):
    r = cli("policysearch.btgm", ["case=gauss2d", "criterion=linear", "target_kl=-2",
                                  f"out_dir={tmp_path / 'x'}"])
    assert r.returncode == 2
    lines = [x for x in r.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: target_kl=-2")
