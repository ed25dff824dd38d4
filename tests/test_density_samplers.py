"""Reference samplers and ground truth against closed forms and exact samplers."""

from __future__ import annotations

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from policysearch.density import (GaussianMixture, MotionPlanning, ground_truth, grid_sample,
                                  grid_inverse_cdf, importance_sample, inverse_cdf_sample,
                                  make_target, mmd, rejection_sample, run_mcmc,
                                  snis_expectation, tempered_smc)
from policysearch.density.ground_truth import cache_path, smc_reference

KEY = jax.random.key(0)


def test_inverse_cdf_exponential_and_numerical_gaussian():
    lam = 2.0
    x = np.asarray(inverse_cdf_sample(KEY, lambda u: -jnp.log1p(-u) / lam, 20000))
    assert stats.kstest(x, stats.expon(scale=1 / lam).cdf).pvalue > 1e-3
    icdf = grid_inverse_cdf(lambda z: -0.5 * z**2, -8.0, 8.0, 8193)
    u = np.array([0.01, 0.1, 0.5, 0.8, 0.999])
    np.testing.assert_allclose(np.asarray(icdf(jnp.asarray(u))), stats.norm.ppf(u), atol=2e-3)


def test_rejection_acceptance_rate_is_z_over_k_and_samples_are_exact():
    # p~ = exp(-|z|^2/2) in D = 2 (Z = 2 pi), q = N(0, 1.5^2 I): k = max p~/q = 2 pi 1.5^2
    D, sq = 2, 1.5
    log_k = math.log(2 * math.pi * sq**2)
    res = rejection_sample(
        KEY, lambda z: -0.5 * jnp.sum(z**2),
        lambda k: sq * jax.random.normal(k, (D,)),
        lambda z: jnp.sum(stats_norm_logpdf(z, sq)), log_k, 4000)
    # lecture: acceptance = (sigma_p / sigma_q)^D
    assert float(res.acceptance_rate) == pytest.approx((1 / sq) ** D, rel=0.05)
    assert int(res.exhausted) == 0
    x = np.asarray(res.samples)
    assert stats.kstest(x.ravel(), "norm").pvalue > 1e-3


def stats_norm_logpdf(z, s):
    return -0.5 * (z / s) ** 2 - jnp.log(s) - 0.5 * jnp.log(2 * jnp.pi)


def test_importance_sampling_evidence_mean_and_ess_closed_form():
    t = GaussianMixture([[-2.0, 0.0], [2.0, 1.0]], weights=[0.3, 0.7], stds=0.7)
    s = 3.0
    res = importance_sample(
        KEY, lambda z: t.log_prob(z) + math.log(7.0),
        lambda k, n: s * jax.random.normal(k, (n, 2)),
        lambda z: jnp.sum(stats_norm_logpdf(z, s)), 40000)
    assert float(res.log_z) == pytest.approx(math.log(7.0), abs=0.03)
    np.testing.assert_allclose(snis_expectation(lambda z: z, res), [0.8, 0.7], atol=0.05)
    # ESS/n -> 1 / E_q[w^2] = sqrt(2 s^2 - 1) / s^2 per dimension for p = N(0,1), q = N(0,s^2)
    s = 2.0
    r2 = importance_sample(KEY, lambda z: jnp.sum(stats_norm_logpdf(z, 1.0)),
                           lambda k, n: s * jax.random.normal(k, (n, 1)),
                           lambda z: jnp.sum(stats_norm_logpdf(z, s)), 40000)
    assert float(r2.ess) / 40000 == pytest.approx(math.sqrt(2 * s * s - 1) / s**2, rel=0.03)


COV = np.array([[1.0, 0.8], [0.8, 1.0]])
PREC = np.linalg.inv(COV)


def _gauss_logp(x):
    return -0.5 * x @ jnp.asarray(PREC, jnp.float32) @ x


@pytest.mark.parametrize("kernel,step", [("rmh", 1.0), ("hmc", None), ("nuts", None),
                                         ("mala", 0.3)])
def test_mcmc_kernels_recover_a_correlated_gaussian(kernel, step):
    x0 = jnp.zeros((4, 2)) + 2.0
    res = run_mcmc(KEY, _gauss_logp, x0, kernel=kernel, num_samples=1000, num_warmup=200,
                   step_size=step, num_integration_steps=5)
    x = np.asarray(res.samples).reshape(-1, 2)
    assert res.samples.shape == (4, 1000, 2)
    np.testing.assert_allclose(x.mean(0), [0, 0], atol=0.15)
    np.testing.assert_allclose(np.cov(x.T), COV, atol=0.15)
    assert 0.2 < float(res.acceptance_rate.mean()) <= 1.0


def test_ula_has_its_known_bias_and_mala_removes_it():
    # 1-D N(0, 1), step h: ULA's stationary variance is 1 / (1 - h/2); MALA's is 1
    h = 0.5
    x0 = jnp.zeros((8, 1))
    ula = np.asarray(run_mcmc(KEY, lambda x: -0.5 * jnp.sum(x**2), x0, kernel="ula",
                              num_samples=4000, num_warmup=100, step_size=h).samples)
    mala = np.asarray(run_mcmc(KEY, lambda x: -0.5 * jnp.sum(x**2), x0, kernel="mala",
                               num_samples=4000, num_warmup=100, step_size=h).samples)
    assert ula.var() == pytest.approx(1 / (1 - h / 2), rel=0.06)
    assert mala.var() == pytest.approx(1.0, rel=0.06)


def test_tempered_smc_evidence_and_mode_masses():
    # prior N(0, 4^2 I), likelihood = GMM / prior  =>  evidence 1 (log 0), posterior = GMM
    t = GaussianMixture([[-3.0, 0.0], [3.0, 0.0]], weights=[0.25, 0.75], stds=0.6)
    lprior = lambda x: jnp.sum(stats_norm_logpdf(x, 4.0))  # noqa: E731
    x0 = 4.0 * jax.random.normal(KEY, (1000, 2))
    res = tempered_smc(jax.random.key(1), lprior, lambda x: t.log_prob(x) - lprior(x), x0,
                       mutation="hmc", target_ess=0.7, num_mcmc_steps=3, step_scale=0.5)
    assert abs(float(res.log_evidence)) < 0.1
    lab = np.asarray(t.mode_labels(res.samples))
    assert np.mean(lab == 1) == pytest.approx(0.75, abs=0.04)
    exact = np.asarray(t.sample(jax.random.key(2), 1000))
    assert float(mmd(res.samples, exact, bandwidth=1.0).mmd2) < 0.01


def test_ground_truth_cache_reproducible_and_grid_is_exact(tmp_path):
    t = make_target("gmm")
    g1 = ground_truth(t, n=300, seed=3, cache_dir=str(tmp_path))
    assert os.path.basename(g1.path) == os.path.basename(cache_path(t, 300, 3, "exact"))
    assert f"_{t.params_hash()}_exact_n300_seed3" in g1.path
    g2 = ground_truth(t, n=300, seed=3, cache_dir=str(tmp_path))            # from the cache
    g3 = ground_truth(t, n=300, seed=3, cache_dir=str(tmp_path), refresh=True)  # regenerated
    np.testing.assert_array_equal(g1.samples, g2.samples)
    np.testing.assert_array_equal(g1.samples, g3.samples)
    assert g1.diagnostics["passed"]
    with pytest.raises(ValueError, match="no exact sampler"):
        ground_truth(make_target("double_banana"), n=10, method="exact", cache=False)
    # the grid sampler on a 2-D Gaussian mixture: moments of the exact answer
    t2 = GaussianMixture([[-1.0, 0.5], [1.5, -0.5]], weights=[0.4, 0.6], stds=[0.5, 0.8])
    t2.grid_bounds = ((-6.0, 6.0), (-6.0, 6.0))
    x, info = grid_sample(t2, KEY, 40000, resolution=512)
    assert info["edge_mass"] < 1e-6
    np.testing.assert_allclose(x.mean(0), [0.5, -0.1], atol=0.03)
    exact = np.asarray(t2.sample(KEY, 40000))
    np.testing.assert_allclose(np.cov(x.T), np.cov(exact.T), atol=0.05)


def test_smc_reference_on_small_motion_planning_respects_the_scene_symmetry():
    # point-symmetric scene: above-above and below-below have equal mass (known answer)
    t = MotionPlanning(num_waypoints=3)
    x, diag = smc_reference(t, jax.random.key(4), n=600, num_runs=3, num_mcmc_steps=2,
                            min_particles_per_run=200)
    assert x.shape == (600, 6)
    m = np.asarray(diag["mode_mass"])
    se = np.sqrt(m * (1 - m) / 600)
    assert abs(m[0] - m[3]) < 4 * np.hypot(se[0], se[3]) + 0.01
    assert diag["rhat_between_runs_max"] < 1.05
