"""BTGM core: estimators, flow tuning, beta search, latent tuning, criterion assessment and
gradient-free sampling against the closed forms of REFERENCE section 7 (small flows, few
hundred steps). Tests that share a (base, f) pair share one compiled tuner."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from policysearch import btgm
from policysearch.btgm.closed_forms import (gaussian_kl, gaussian_tilt, linear_decoder_tilt,
                                            mixture_tilt_1d)
from policysearch.btgm.flows import FlowConfig, flow_forward, flow_inverse, make_flow

SMALL = FlowConfig(layers=2, width=16)
TUNE = dict(flow=SMALL, batch=256, learning_rate=3e-3, eval_samples=4096, chunk=200)

BASE2 = btgm.StandardNormal(2)
B_LIN = np.array([1.0, 0.5])
F_LIN = lambda x: x @ jnp.asarray(B_LIN, jnp.float32)            # noqa: E731
C_QUAD = np.array([1.5, -1.0])
F_QUAD = lambda x: -0.5 * jnp.sum((x - jnp.asarray(C_QUAD, jnp.float32)) ** 2, -1)  # noqa: E731
QUAD_AB = (np.eye(2), C_QUAD, -0.5 * C_QUAD @ C_QUAD)              # f = -x'Ax/2 + b'x + c


def _exact_quad(beta):
    A, b, c = QUAD_AB
    ex = gaussian_tilt(np.zeros(2), np.eye(2), A, b, beta)
    ex["mean"] += c
    ex["log_z"] += beta * c
    return ex


# ----------------------------------------------------------------------------- estimators
@pytest.mark.parametrize("which", ["linear", "quadratic"])
def test_importance_estimates_match_gaussian_closed_forms(which):
    x = BASE2.sample(jax.random.key(0), 400_000)
    beta = 0.7
    if which == "linear":
        fx, ex = F_LIN(x), gaussian_tilt(np.zeros(2), np.eye(2), np.zeros((2, 2)), B_LIN, beta)
    else:
        fx, ex = F_QUAD(x), _exact_quad(beta)
    est = btgm.tilt_estimates(fx, beta)
    for k, tol in (("log_z", 0.01), ("mean", 0.02), ("var", 0.03), ("kl", 0.01), ("m3", 0.06)):
        assert float(est[k]) == pytest.approx(ex[k], abs=tol), k
    assert 0 < float(est["ess"]) <= x.shape[0]


def test_derivative_identities_by_finite_differences():
    """eqs. 5-6: dE/db = Var, d2E/db2 = M3, dKL/db = b Var, d2KL/db2 = Var + b M3, on the
    closed form and on the importance-sampling estimator (an exact tilt of the empirical
    measure, so the identities hold for it too)."""
    h = 1e-3
    fx = np.asarray(F_QUAD(BASE2.sample(jax.random.key(1), 5000)), np.float64)

    def is_est(b):
        w = np.exp(b * fx - np.max(b * fx))
        w /= w.sum()
        m = w @ fx
        lz = np.log(np.mean(np.exp(b * fx - np.max(b * fx)))) + np.max(b * fx)
        return {"mean": m, "kl": b * m - lz, "var": w @ (fx - m) ** 2, "m3": w @ (fx - m) ** 3}

    for fn in (_exact_quad, is_est):
        for b in (0.3, 1.2):
            lo, mid, hi = fn(b - h), fn(b), fn(b + h)
            d1m = (hi["mean"] - lo["mean"]) / (2 * h)
            d2m = (hi["mean"] - 2 * mid["mean"] + lo["mean"]) / h ** 2
            d1k = (hi["kl"] - lo["kl"]) / (2 * h)
            d2k = (hi["kl"] - 2 * mid["kl"] + lo["kl"]) / h ** 2
            assert d1m == pytest.approx(mid["var"], rel=1e-4)
            assert d1k == pytest.approx(b * mid["var"], rel=1e-4)
            assert d2m == pytest.approx(mid["m3"], rel=2e-3, abs=2e-3)
            assert d2k == pytest.approx(mid["var"] + b * mid["m3"], rel=2e-3, abs=2e-3)
    # and the float32 estimator of the package agrees with the float64 one
    est = btgm.tilt_estimates(fx, 1.2)
    ref = is_est(1.2)
    for k in ("mean", "kl", "var", "m3"):
        assert float(est[k]) == pytest.approx(ref[k], rel=1e-3, abs=1e-3)


def test_smc_estimates_match_closed_form_where_importance_sampling_saturates():
    f = lambda x: x[:, 0]                                      # noqa: E731
    beta, n = 4.0, 1000                                        # exact KL = 8 > log(1000) = 6.9
    ex = gaussian_tilt(np.zeros(2), np.eye(2), np.zeros((2, 2)), np.array([1.0, 0.0]), beta)
    is_est = btgm.tilt_estimates(f(BASE2.sample(jax.random.key(2), n)), beta)
    assert float(is_est["kl"]) < math.log(n) < ex["kl"]        # IS cannot see KL > log N
    smc = btgm.smc_estimates(jax.random.key(3), BASE2, f, beta, n=n)
    assert float(smc["mean"]) == pytest.approx(ex["mean"], abs=0.15)
    assert float(smc["log_z"]) == pytest.approx(ex["log_z"], abs=0.3)
    assert float(smc["kl"]) == pytest.approx(ex["kl"], abs=0.4)
    assert float(smc["var"]) == pytest.approx(ex["var"], abs=0.2)


# ----------------------------------------------------------------------------- flows
@pytest.mark.parametrize("transformer,dim", [("affine", 3), ("spline", 1)])
def test_flow_is_the_identity_at_start(transformer, dim):
    fl = make_flow(jax.random.key(0), dim, FlowConfig(layers=3, width=8, transformer=transformer),
                   mu=jnp.full(dim, 2.0), sd=jnp.full(dim, 3.0))
    x = 4.0 * jax.random.normal(jax.random.key(1), (64, dim))
    y, ld = flow_forward(fl, x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(x), atol=1e-5)
    np.testing.assert_allclose(np.asarray(ld), 0.0, atol=1e-5)
    x2, ld2 = flow_inverse(fl, y)
    np.testing.assert_allclose(np.asarray(x2), np.asarray(x), atol=1e-5)


@pytest.fixture(scope="module")
def tuned_linear():
    return btgm.tune(jax.random.key(10), BASE2, F_LIN, 1.5, steps=600, **TUNE)


def test_tune_linear_gaussian_matches_closed_form(tuned_linear):
    ex = gaussian_tilt(np.zeros(2), np.eye(2), np.zeros((2, 2)), B_LIN, 1.5)
    e = tuned_linear.estimates
    y = np.asarray(tuned_linear.sample(jax.random.key(11), 20000))
    np.testing.assert_allclose(y.mean(0), ex["m"], atol=0.08)
    np.testing.assert_allclose(np.cov(y.T), ex["S"], atol=0.12)
    assert e["mean"] == pytest.approx(ex["mean"], abs=0.08)
    assert e["kl"] == pytest.approx(ex["kl"], abs=0.1)
    assert e["log_z"] == pytest.approx(ex["log_z"], abs=0.05)
    assert -0.02 < e["gap"] < 0.05                      # KL(q_g || q_beta) >= 0, small here
    assert e["ess_flow"] > 0.9
    # the tuned density is the exact one up to the fit error
    pts = jnp.asarray(ex["m"] + np.array([[0.0, 0.0], [0.5, -0.5], [-1.0, 0.3]]), jnp.float32)
    exact_lp = -0.5 * np.sum((np.asarray(pts) - ex["m"]) ** 2, -1) - math.log(2 * math.pi)
    np.testing.assert_allclose(np.asarray(tuned_linear.log_prob(pts)), exact_lp, atol=0.1)


def test_tune_is_deterministic_and_warm_starts(tuned_linear):
    again = btgm.tune(jax.random.key(10), BASE2, F_LIN, 1.5, steps=600, **TUNE)
    assert again.estimates == tuned_linear.estimates                 # same key: same numbers
    np.testing.assert_array_equal(again.losses, tuned_linear.losses)
    # a warm start at the same beta starts where the previous fit ended
    warm = btgm.tune(jax.random.key(14), BASE2, F_LIN, 1.5, steps=200, init=tuned_linear, **TUNE)
    assert warm.losses[0] < tuned_linear.losses[0] - 0.5
    assert abs(warm.estimates["gap"]) < 0.05
    x, y, ld = warm.sample_with_base(jax.random.key(15), 8)
    np.testing.assert_allclose(np.asarray(warm.log_prob(y)),
                               np.asarray(BASE2.log_prob(x) - ld), atol=1e-4)


def test_tune_quadratic_gaussian_matches_closed_form():
    beta = 2.0
    ex = _exact_quad(beta)
    t = btgm.tune(jax.random.key(12), BASE2, F_QUAD, beta, steps=600, **TUNE)
    y = np.asarray(t.sample(jax.random.key(13), 20000))
    np.testing.assert_allclose(y.mean(0), ex["m"], atol=0.08)
    np.testing.assert_allclose(np.cov(y.T), ex["S"], atol=0.06)      # shrunk to I / 3
    assert t.estimates["mean"] == pytest.approx(ex["mean"], abs=0.06)
    assert t.estimates["kl"] == pytest.approx(ex["kl"], abs=0.1)
    assert t.estimates["var"] == pytest.approx(ex["var"], abs=0.12)
    # a target above the bound of a quadratic f is refused before any training
    with pytest.raises(btgm.UnreachableTargetError, match="unreachable"):
        btgm.find_beta(jax.random.key(0), BASE2, F_QUAD, target_mean=0.1, f_sup=0.0)


class Mixture1D:
    """0.6 N(-0.75, 1) + 0.4 N(0.75, 0.8^2): overlapping modes."""
    w, mu, s = np.array([0.6, 0.4]), np.array([-0.75, 0.75]), np.array([1.0, 0.8])

    def sample(self, key, n):
        k1, k2 = jax.random.split(key)
        c = jax.random.choice(k1, 2, (n,), p=jnp.asarray(self.w))
        return (jnp.asarray(self.mu)[c] + jnp.asarray(self.s)[c] * jax.random.normal(k2, (n,)))[:, None]

    def log_prob(self, x):
        z = (x - jnp.asarray(self.mu)) / jnp.asarray(self.s)
        lp = -0.5 * z ** 2 - jnp.log(jnp.asarray(self.s)) - 0.5 * jnp.log(2 * jnp.pi)
        return jax.scipy.special.logsumexp(lp + jnp.log(jnp.asarray(self.w)), axis=-1)


def test_overlapping_1d_mixture_matches_closed_form():
    base, a, beta = Mixture1D(), 1.0, 1.2
    f = lambda x: a * x[:, 0]                                  # noqa: E731
    ex = mixture_tilt_1d(base.w, base.mu, base.s, a, beta)
    est = btgm.tilt_estimates(f(base.sample(jax.random.key(4), 400_000)), beta)
    assert float(est["mean"]) == pytest.approx(ex["mean"], abs=0.02)
    assert float(est["kl"]) == pytest.approx(ex["kl"], abs=0.02)
    t = btgm.tune(jax.random.key(5), base, f, beta, steps=600, **TUNE)
    assert t.estimates["mean"] == pytest.approx(ex["mean"], abs=0.08)
    assert t.estimates["kl"] == pytest.approx(ex["kl"], abs=0.1)
    assert t.estimates["gap"] < 0.05


def test_find_beta_hits_target_kl_within_monte_carlo_error(tuned_linear):
    target = 2.0
    beta, tuned, hist = btgm.find_beta(jax.random.key(20), BASE2, F_LIN, target_kl=target,
                                       steps=400, max_iter=6, **TUNE)
    assert hist[-1]["converged"]
    e = tuned.estimates
    assert abs(e["kl"] - target) < hist[-1]["tolerance"] <= 0.15
    # exact beta: KL = beta^2 |b|^2 / 2 (the flow's fit error moves it a little)
    assert beta == pytest.approx(math.sqrt(2 * target) / np.linalg.norm(B_LIN), rel=0.1)
    assert all(h["beta"] >= 0 for h in hist)
    with pytest.raises(ValueError, match="target_kl=-1"):
        btgm.find_beta(jax.random.key(0), BASE2, F_LIN, target_kl=-1.0)


def test_beta_step_solves_the_second_order_model():
    r, d1, d2 = 0.5, 1.0, -0.4
    s = btgm.beta_step(r, d1, d2)
    assert r + d1 * s + d2 * s * s / 2 == pytest.approx(0.0, abs=1e-12)
    assert btgm.beta_step(-1.0, 1.0, 0.0) == pytest.approx(1.0)            # linear: Newton
    assert btgm.beta_step(2.0, 1.0, 1.0) == pytest.approx(-2.0)            # complex -> Newton


def _fake_evaluate(scale=1.0, cap=math.inf):
    """A model whose KL is scale x the exact one of N(0, 1) tilted by f = x (capped), with the
    exact moments (what a flow that follows q_beta only partly would report)."""
    def evaluate(key, beta):
        ex = gaussian_tilt(np.zeros(1), np.eye(1), np.zeros((1, 1)), np.ones(1), beta)
        e = {"mean": ex["mean"], "var": ex["var"], "m3": ex["m3"], "se": 1e-3,
             "kl": min(scale * ex["kl"], cap), "kl_se": 1e-3}
        return e, None
    return evaluate


def test_beta_search_converges_fast_and_checks_its_model():
    from policysearch.btgm.search import search_beta
    keys = [None] * 12
    beta, _, hist = search_beta(_fake_evaluate(), keys, 3.0, "kl", 0.2, 100.0, 1.0)
    assert hist[-1]["converged"] and beta == pytest.approx(math.sqrt(6.0), abs=1e-2)
    assert len(hist) <= 6 and all(h.get("rule") != "secant" for h in hist)
    # the model's KL grows 3x slower than q_beta's: the secant rule takes over
    beta, _, hist = search_beta(_fake_evaluate(scale=1 / 3), keys, 3.0, "kl", 0.2, 100.0, 1.0)
    assert hist[-1]["converged"] and beta == pytest.approx(math.sqrt(18.0), abs=2e-2)
    assert any(h.get("rule") == "secant" for h in hist) and len(hist) <= 9
    # a model that cannot pass KL = 1: unreachable once beta_max is hit
    with pytest.raises(btgm.UnreachableTargetError, match="beta_max"):
        search_beta(_fake_evaluate(cap=1.0), keys, 2.0, "kl", 0.5, 20.0, 1.0)


# ----------------------------------------------------------------------------- latent
def test_latent_tuning_with_a_linear_decoder_respects_the_bound():
    W = np.array([[1.0, 0.5], [0.0, 1.0], [0.5, -0.5]])
    c, s_noise, a, beta = np.array([0.2, -0.1, 0.0]), 0.3, np.array([1.0, -0.5, 0.5]), 1.0
    Wj, cj = jnp.asarray(W, jnp.float32), jnp.asarray(c, jnp.float32)
    decode = lambda z: z @ Wj.T + cj                            # noqa: E731
    f = lambda x: x @ jnp.asarray(a, jnp.float32)               # noqa: E731
    ex = linear_decoder_tilt(W, c, s_noise, a, beta)
    assert ex["kl_x"] <= ex["kl_z"]
    ft = btgm.latent_criterion(decode, f)
    t = btgm.tune(jax.random.key(30), BASE2, ft, beta, steps=400, **TUNE)
    z = np.asarray(t.sample(jax.random.key(31), 20000))
    np.testing.assert_allclose(z.mean(0), ex["m_z"], atol=0.08)
    assert t.estimates["kl"] == pytest.approx(ex["kl_z"], abs=0.08)
    # decode with the decoder noise: data-space KL (Gaussian, so the moment fit is exact)
    noise = s_noise * np.asarray(jax.random.normal(jax.random.key(32), (20000, 3)))
    xq = np.asarray(decode(jnp.asarray(z))) + noise
    xp = np.asarray(decode(BASE2.sample(jax.random.key(33), 20000))) + noise
    kl_x = btgm.data_kl_gaussian_fit(xq, xp)
    assert kl_x == pytest.approx(ex["kl_x"], abs=0.08)
    assert kl_x <= t.estimates["kl"] + 0.02
    m = btgm.LatentModel(t, decode)
    assert m.sample(jax.random.key(34), 5).shape == (5, 3)


# ----------------------------------------------------------------------------- assessment
def test_criterion_assessment_ranks_log_h_above_h():
    w, b0 = jnp.asarray([4.0, 0.0]), -1.0                       # steep known classifier
    logit = lambda x: x @ w + b0                                 # noqa: E731
    h = lambda x: jax.nn.sigmoid(logit(x))                       # noqa: E731
    log_h = lambda x: jax.nn.log_sigmoid(logit(x))               # noqa: E731
    x = BASE2.sample(jax.random.key(40), 5000)
    line, summ = btgm.compare_criteria(x, {"h": h, "log_h": log_h})
    assert summ["order"] == ["log_h", "h"] and line.startswith("prefer log_h")
    assert summ["h"]["concentration"] > 1.2 * summ["log_h"]["concentration"]
    assert summ["h"]["frac_near_zero"] > summ["log_h"]["frac_near_zero"]
    assert summ["h"]["q99"] / summ["h"]["q50"] > summ["log_h"]["q99"] / summ["log_h"]["q50"]
    a = btgm.assess_criterion(log_h, x, betas=np.linspace(0, 2, 5))
    assert a["curve"]["kl"][0] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(a["curve"]["mean"]) > 0) and np.all(np.diff(a["curve"]["kl"]) > 0)
    np.testing.assert_array_equal(btgm.pareto_front([0.0, 1.0, 0.5, 2.0], [0.0, 1.0, 2.0, 3.0]),
                                  [0, 1, 3])


# ----------------------------------------------------------------------------- gradient-free
def test_gradient_free_sampling_of_a_thresholded_criterion():
    from policysearch.btgm.cases import get_case
    case = get_case("gauss2d")
    model = case.build(jax.random.key(0), dict(case.defaults))
    f = model.criteria["threshold"]
    ex = model.exact("threshold", 2.0)
    r = btgm.sample_tilted(jax.random.key(50), model.base, f, 2.0, method="smc", n=1000)
    assert r["mean"] == pytest.approx(ex["mean"], abs=0.04)
    assert r["kl"] == pytest.approx(ex["kl"], abs=0.08)
    sv = btgm.sample_tilted(jax.random.key(51), model.base, f, 2.0, method="sv_cma_es", n=32,
                            generations=40, pop_size=8)
    assert sv["samples"].shape == (32, 2) and sv["mean"] > 0.5     # p puts 0.34 above 1
