"""The sampling CLI (tiny budgets) and the density runner."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import cli, compose_cfg


def test_cli_writes_the_run_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYSEARCH_CACHE", str(tmp_path / "gt"))
    out = tmp_path / "run"
    r = cli("policysearch.sample",
            ["target=gmm", "strategy=sv_cma_es", "evaluations=640", "seeds=2", "records=5",
             "strategy.num_particles=8", "strategy.pop_size=8", "ground_truth.n=300",
             f"out_dir={out}"])
    assert r.returncode == 0, r.stderr[-2000:]
    for f in ("config.yaml", "samples.npz", "metrics.jsonl", "summary.json", "samples.png",
              "curves.png"):
        assert (out / f).exists(), f
    s = json.loads((out / "summary.json").read_text())
    assert s["target"] == "gmm" and s["strategy"] == "sv_cma_es"
    assert s["evaluations"] == 640 and s["generations"] == 10
    assert s["ground_truth"]["method"] == "exact" and s["ground_truth"]["diagnostics"]["passed"]
    assert s["mmd_bandwidth"] > 0 and len(s["final_mmd2"]["per_seed"]) == 2
    assert len(s["mode_coverage"]) == 2
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 6 and rows[-1]["evaluations"] == 640
    z = np.load(out / "samples.npz")
    assert z["records"].shape == (2, 6, 8, 2) and z["final"].shape == (2, 8, 2)
    # the run is reproducible: the MMD at the end equals the recomputed one
    from policysearch.density import MMDToReference, ground_truth, make_target
    gt = ground_truth(make_target("gmm"), n=300, seed=0)
    ref = MMDToReference(gt.samples)
    assert float(ref(jnp.asarray(z["final"][1]))) == pytest.approx(s["final_mmd2"]["per_seed"][1],
                                                                    abs=1e-5)


def test_cli_bad_values_exit_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYSEARCH_CACHE", str(tmp_path / "gt"))
    r = cli("policysearch.sample", ["evaluations=0", f"out_dir={tmp_path / 'x'}"])
    assert r.returncode == 2 and "evaluations=0 is invalid" in r.stderr


def test_svgd_autodiff_in_process_via_the_shared_strategy_group(tmp_path, monkeypatch):
    from policysearch.sample import run

    monkeypatch.setenv("POLICYSEARCH_CACHE", str(tmp_path / "gt"))
    cfg = compose_cfg(["target=gmm8", "strategy=svgd", "strategy.source=autodiff",
                       "strategy.num_particles=8", "evaluations=320", "seeds=1", "records=4",
                       "ground_truth.n=200", "figures=false", f"out_dir={tmp_path / 'r'}"],
                      config_name="sample")
    s = run(cfg)
    assert s["pop_size"] == 1 and s["evaluations"] == 320  # 8 gradient evaluations / step
    assert s["generations"] == 40 and np.isfinite(s["final_mmd2"]["mean"])
    assert np.isfinite(s["final_ksd2"]["mean"])


def test_evosax_adapter_equals_evosax():
    from policysearch.density.runner import EvosaxSVCMAES

    rho, m, d = 3, 4, 2
    x0 = jax.random.normal(jax.random.key(0), (rho, d))
    ad = EvosaxSVCMAES(rho, m, d)
    es = ad._es   # the same evosax instance: its jitted ask/tell compile once
    p = es.default_params
    s_ad, s_es = ad.init(jax.random.key(1), x0, p), es.init(jax.random.key(1), x0, p)
    f = lambda x: jnp.sum((x - 1.0) ** 2, -1)  # noqa: E731
    for g in range(2):
        k = jax.random.key(10 + g)
        off, s_ad = ad.ask(k, s_ad)
        pop, s_es = es.ask(k, s_es, p)
        np.testing.assert_array_equal(off.reshape(-1, d), pop)
        s_ad = ad.tell(off, f(off), s_ad)
        s_es, _ = es.tell(jax.random.key(0), pop, f(pop), s_es, p)
    np.testing.assert_allclose(ad.means(s_ad), s_es.mean, rtol=1e-6)


def test_density_experiment_quick_smoke(tmp_path, monkeypatch):
    from experiments.density_sampling import main

    monkeypatch.setenv("POLICYSEARCH_CACHE", str(tmp_path / "gt"))
    out = tmp_path / "figs"
    res = main(["--quick", "--targets", "gmm", "--methods", "svgd", "--seeds", "2",
                "--out", str(out)])
    r = res[0]["methods"]["svgd"]
    assert len(r["final_mmd2"]) == 2 and r["evaluations"][-1] == 8 * 4 * 8
    for f in ("results.json", "results.md", "mmd_gmm.png", "particles_gmm.png", "runtime.png"):
        assert (out / f).exists(), f
    assert "SVGD, autodiff grad" in (out / "results.md").read_text()
