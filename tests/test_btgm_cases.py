"""BTGM case studies: the SYNTHETIC load generator, the criteria on hand-made inputs, the model
cache, the top-rho rejection baseline, the case registry and a tiny end-to-end latent tuning."""

import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from policysearch.btgm.cases import digits, energy, get_case, case_names, rejection, study
from policysearch.btgm.cases.energy_data import HOURS, synthetic_weekly_load
from policysearch.btgm.latent import StandardNormal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------ generator
def test_generator_is_seeded_and_has_the_documented_shape_and_statistics():
    x = synthetic_weekly_load(3000, seed=0)
    assert x.shape == (3000, HOURS) and x.dtype == np.float32
    np.testing.assert_array_equal(x, synthetic_weekly_load(3000, seed=0))
    assert not np.allclose(x[:10], synthetic_weekly_load(10, seed=1))
    assert x.min() > 1.0                                  # 10 base loads are always on
    assert 7.0 < x.mean() < 8.5                           # documented: 7.7 kW
    profile = x.reshape(-1, 7, 24).mean((0, 1))
    assert int(profile.argmax()) == 19                    # evening peak at 19:00
    assert 8.0 < profile[7] < 11.0 and profile[3] < 5.0   # morning peak, night floor
    weekday, weekend = x[:, :120].mean(), x[:, 120:].mean()
    assert 1.08 < weekend / weekday < 1.25                # documented: +16 %
    peak = x.max(1)
    assert 16.5 < np.median(peak) < 19.0 and 23.5 < np.quantile(peak, 0.99) < 27.5


def test_generator_away_weeks_and_households():
    x_all_away, away = synthetic_weekly_load(500, seed=3, away_prob=1.0, return_away=True)
    x = synthetic_weekly_load(500, seed=3)
    assert np.all(away == 10)
    assert x_all_away.mean() < 0.5 * x.mean()             # empty homes: base + frost heating
    assert np.asarray(energy.l1_flat(x_all_away)).mean() < 0.5 * np.asarray(
        energy.l1_flat(x)).mean()                         # no daily cycle: flat curves
    one = synthetic_weekly_load(2000, seed=0, households=1)
    assert 0.05 < one.mean() / x.mean() < 0.2
    with pytest.raises(ValueError):
        synthetic_weekly_load(0)


# ------------------------------------------------------------------ criteria
def test_energy_criteria_on_hand_made_curves():
    flat = jnp.full((1, HOURS), 5.0)
    spike = jnp.ones((1, HOURS)).at[0, 50].set(11.0)      # Wednesday 02:00
    both = jnp.concatenate([flat, spike])
    np.testing.assert_allclose(energy.peak(both), [5.0, 11.0])
    ps = np.asarray(energy.peak_smooth(both))
    assert np.all(ps >= [5.0, 11.0]) and np.all(ps <= np.array([5.0, 11.0])
                                                + energy.PEAK_TAU * math.log(HOURS) + 1e-5)
    np.testing.assert_allclose(ps[0], 5.0 + energy.PEAK_TAU * math.log(HOURS), rtol=1e-6)
    np.testing.assert_allclose(energy.wednesday(both), [0.0, 10 / 24 - 10 / 168], atol=1e-6)
    m = 1 + 10 / 168
    l1 = ((HOURS - 1) * (m - 1) + (11 - m)) / HOURS
    np.testing.assert_allclose(energy.l1_flat(both), [0.0, l1], atol=1e-6)
    np.testing.assert_allclose(energy.criterion("l1_flat_min")(both), [0.0, -l1], atol=1e-6)
    hot = jnp.concatenate([flat + 14.0, spike * 20.0])    # 19 kW everywhere; one 220 kW hour
    np.testing.assert_allclose(energy.hours_above(hot), [168.0, 168.0])
    np.testing.assert_allclose(energy.hours_above(both), [0.0, 0.0])
    g = jax.grad(lambda v: energy.hours_above(v[None])[0])(spike[0] * 18.0)
    assert float(jnp.abs(g).max()) == 0.0                 # why it needs gradient-free BTGM
    with pytest.raises(ValueError, match="allowed"):
        energy.criterion("nope")


def test_digits_ink_criteria_and_unknown_name():
    x = jnp.asarray(digits.load_data()[0][:5])
    np.testing.assert_allclose(digits.criterion("ink_more")(x), np.asarray(x).sum(1), rtol=1e-6)
    np.testing.assert_allclose(digits.criterion("ink_less")(x), -np.asarray(x).sum(1),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="allowed"):
        digits.criterion("bold")


# ------------------------------------------------------------------ models, cache, registry
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cache = str(tmp_path_factory.mktemp("btgm_models"))
    vae = digits.vae(cache_dir=cache, steps=300, hidden=(32,), latent_dim=4)
    h = digits.classifier(cache_dir=cache, steps=300, hidden=(32,))
    return cache, vae, h


def test_model_cache_lives_in_the_user_cache_not_the_current_directory(tiny, tmp_path, monkeypatch):
    from policysearch import compile_cache
    from policysearch.btgm.cases import help_text, models

    _, _, h = tiny
    monkeypatch.delenv("POLICYSEARCH_BTGM_CACHE", raising=False)
    monkeypatch.setattr(compile_cache, "ROOT", str(tmp_path / "home_cache"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert models.default_cache_dir() == str(tmp_path / "home_cache" / "btgm_models")
    models.cached("probe", {"k": 1}, lambda: h)
    assert os.listdir(tmp_path / "elsewhere") == []
    assert os.listdir(tmp_path / "home_cache" / "btgm_models")[0].startswith("probe-")
    assert str(tmp_path / "home_cache" / "btgm_models") in help_text()  # --help says where
    monkeypatch.setenv("POLICYSEARCH_BTGM_CACHE", str(tmp_path / "moved"))
    assert models.default_cache_dir() == str(tmp_path / "moved")


def test_model_cache_roundtrip(tiny):
    cache, vae, h = tiny
    assert sorted(os.listdir(cache))[0].startswith("digits_classifier-")
    vae2 = digits.vae(cache_dir=cache, steps=300, hidden=(32,), latent_dim=4)   # loaded
    h2 = digits.classifier(cache_dir=cache, steps=300, hidden=(32,))
    z = vae.prior.sample(jax.random.key(0), 7)
    np.testing.assert_allclose(vae2.decode(z), vae.decode(z), rtol=1e-6)
    assert vae2.likelihood == "bernoulli" and vae2.hidden == (32,) and vae2.latent_dim == 4
    x = vae.decode(z)
    np.testing.assert_allclose(h2.log_probs(x), h.log_probs(x), rtol=1e-6)
    np.testing.assert_allclose(digits.criterion("class", h)(x),
                               np.exp(digits.criterion("log_class", h)(x)), rtol=1e-5)
    # trained: the classifier beats chance by far on held-out digits
    _, _, x_te, y_te = digits.load_data()
    assert np.mean(np.asarray(h.log_probs(x_te)).argmax(1) == y_te) > 0.8


def test_registry_lists_the_case_studies():
    names = case_names()
    assert {"digits", "energy", "digits_adversarial"} <= set(names)
    e = get_case("energy")
    assert "hours_above" in e.criteria and "hours_above" not in e.differentiable
    assert get_case("digits").f_sup["class"] == 1.0


# ------------------------------------------------------------------ rejection baseline
def test_sweep_theory_comes_from_one_common_sample_and_labels_have_no_negative_zero():
    """The table's theory columns are the IS estimates on the figure's common sample (one set of
    draws for every beta: E f(beta) is monotone, dE f/dbeta = Var f >= 0), not each tuned
    model's own fresh draws; a tiny negative Monte-Carlo KL is labelled 0.0, not -0.0."""
    from types import SimpleNamespace

    from policysearch.btgm.estimators import tilt_estimates

    f_p = jax.random.gumbel(jax.random.key(0), (20000,))      # heavy right tail, like logit D
    own = {"mean": 0.0, "kl": -0.004, "gap": 0.0, "ess_flow": 1.0, "se": 0.1, "kl_se": 0.1,
           "is_mean": 99.0, "is_kl": 99.0, "is_ess": 1.0}        # a model's own IS: ignored
    betas = [0.0, 0.25, 0.5, 0.75, 1.0]
    rows = study.sweep_rows([SimpleNamespace(beta=b, estimates=own) for b in betas], f_p)
    for r in rows:
        ref = tilt_estimates(f_p, r["beta"])
        assert r["is_mean"] == pytest.approx(float(ref["mean"]), rel=1e-6)
        assert r["is_kl"] == pytest.approx(float(ref["kl"]), rel=1e-6, abs=1e-7)
    assert np.all(np.diff([r["is_mean"] for r in rows]) > 0)
    assert study.beta_label(rows[0]) == "b=0\nKL=0.0"
    assert study.beta_label({"beta": 0.5, "kl": 1.26}) == "b=0.5\nKL=1.3"
    w = study.is_weights(np.asarray(f_p), 0.5)
    assert w.sum() == pytest.approx(1.0) and float(np.sum(w * np.asarray(f_p))) == pytest.approx(
        rows[2]["is_mean"], rel=1e-4)


def test_top_fraction_keeps_the_top_quantile():
    base = StandardNormal(1)
    f = lambda x: x[:, 0]                                  # noqa: E731
    out = rejection.top_fraction(jax.random.key(0), base, f, rho=0.01, n_accept=200,
                                 chunk=5000)
    assert out["draws"] == 20000 and out["rho_realised"] == 0.01
    vals = np.asarray(out["f"])
    assert np.all(np.diff(vals) <= 0) and vals[-1] == out["threshold"]
    np.testing.assert_allclose(np.asarray(out["samples"])[:, 0], vals)
    assert abs(out["threshold"] - norm.ppf(0.99)) < 0.12
    with pytest.raises(ValueError):
        rejection.top_fraction(jax.random.key(0), base, f, rho=0.0)


# ------------------------------------------------------------------ end to end
def test_tiny_latent_case_end_to_end(tiny):
    """log_class tilt of a tiny digits VAE: beta = 0 is p (KL 0), beta = 2 raises E f, the
    KL and h(4|x), and the tuned values track the importance-sampling theory."""
    _, vae, h = tiny
    prob = study.latent_problem(jax.random.key(1), vae.decode, vae.latent_dim,
                                digits.criterion("log_class", h, 4), n_normalise=4000)
    tuned = study.beta_sweep(jax.random.key(2), prob.base, prob.f, [0.0, 2.0],
                             steps_first=400, steps=200, chunk=200, eval_samples=2000)
    rows = study.sweep_rows(tuned, prob.f(prob.base.sample(jax.random.key(4), 20000)))
    assert abs(rows[0]["kl"]) < 0.02 and abs(rows[0]["mean"]) < 0.1
    assert rows[1]["mean"] > 0.8 and rows[1]["kl"] > 0.3
    assert abs(rows[1]["mean"] - rows[1]["is_mean"]) < 0.35
    prob4 = [float(jnp.mean(jnp.exp(h.log_probs(vae.decode(t.sample(jax.random.key(3),
                                                                    2000)))[:, 4])))
             for t in tuned]
    assert prob4[1] > 1.5 * prob4[0]                       # more mass on class 4


def test_cli_rejects_unknown_criterion_of_a_case():
    r = subprocess.run([sys.executable, "-m", "policysearch.btgm", "case=energy",
                        "criterion=nope", "target_kl=1"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "hours_above" in lines[0]


def test_rejection_benchmark_rejects_bad_options(tmp_path, capsys):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import btgm_rejection
    finally:
        sys.path.pop(0)
    common = ["--out", str(tmp_path), "--figures", str(tmp_path)]
    assert btgm_rejection.main(["--rhos", "1e-2,2"] + common) == 2
    assert btgm_rejection.main(["--rhos", "x"] + common) == 2
    assert btgm_rejection.main(["--criterion", "hours_above"] + common) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error:") for line in err)
