"""MMD / KSD / mode statistics / ESS against brute force and closed forms."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from policysearch.density import (MMDToReference, ess_from_log_weights, ksd, ksd2_unbiased,
                                  median_bandwidth, mmd, mmd2_unbiased, mode_stats)


def _mmd2_brute(x, y, h):
    """Double loops in float64, straight from the definition of the U-statistic."""
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * h * h))  # noqa: E731
    n, m = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kxy = sum(k(a, b) for a in x for b in y) / (n * m)
    return kxx + kyy - 2 * kxy


def _closed_form_mmd2(mu, s, h, d):
    """N(0, s^2 I) vs N(mu, s^2 I), RBF bandwidth h."""
    c = (h**2 / (h**2 + 2 * s**2)) ** (d / 2)
    return 2 * c * (1 - np.exp(-np.sum(np.square(mu)) / (2 * (h**2 + 2 * s**2))))


def test_mmd_equals_brute_force_with_unequal_sizes_and_median_on_pooled_sample():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(11, 3)) + 0.5
    np.testing.assert_allclose(float(mmd2_unbiased(x, y, 1.3)), _mmd2_brute(x, y, 1.3),
                               rtol=1e-4, atol=1e-6)
    z = np.concatenate([x, y])
    med = np.median([np.linalg.norm(a - b) for a, b in itertools.combinations(z, 2)])
    res = mmd(x, y)
    np.testing.assert_allclose(float(res.bandwidth), med, rtol=1e-5)
    np.testing.assert_allclose(float(res.mmd2), _mmd2_brute(x, y, med), rtol=1e-4, atol=1e-6)
    assert float(median_bandwidth(jnp.asarray(z))) == pytest.approx(med, rel=1e-5)
    with pytest.raises(ValueError):
        mmd2_unbiased(x[:1], y, 1.0)


def test_mmd_identical_distributions_is_unbiased_zero():
    # 400 replicates of n = m = 40 from N(0, I_2): the U-statistic averages to 0
    keys = jax.random.split(jax.random.key(1), 400)

    def one(k):
        a, b = jax.random.split(k)
        return mmd2_unbiased(jax.random.normal(a, (40, 2)), jax.random.normal(b, (40, 2)), 1.0)

    vals = np.asarray(jax.jit(jax.vmap(one))(keys))
    assert abs(vals.mean()) < 3 * vals.std() / np.sqrt(len(vals))
    assert (vals < 0).any()   # unbiased: no positive bias from the diagonal


def test_mmd_shifted_gaussians_closed_form():
    d, s, h = 3, 1.0, 1.5
    mu = np.array([1.0, -0.5, 0.5])
    keys = jax.random.split(jax.random.key(2), 50)

    def one(k):
        a, b = jax.random.split(k)
        x = s * jax.random.normal(a, (300, d))
        y = s * jax.random.normal(b, (300, d)) + mu
        return mmd2_unbiased(x, y, h)

    vals = np.asarray(jax.jit(jax.vmap(one))(keys))
    exact = _closed_form_mmd2(mu, s, h, d)
    assert abs(vals.mean() - exact) < 4 * vals.std() / np.sqrt(len(vals)) + 1e-3
    assert exact > 0.1


def test_mmd_to_reference_matches_plain_mmd():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(1100, 2))      # more than one 1024-row block
    x = rng.normal(size=(20, 2)) * 1.2
    ref = MMDToReference(y)
    assert ref.bandwidth == pytest.approx(float(median_bandwidth(jnp.asarray(y))))
    np.testing.assert_allclose(float(ref(jnp.asarray(x))),
                               float(mmd2_unbiased(x, y, ref.bandwidth)), rtol=1e-4, atol=1e-6)


def test_ksd_equals_brute_force_autodiff_stein_kernel():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(9, 2))
    score = lambda v: -v + jnp.sin(v)  # noqa: E731 - any score function
    s = np.asarray(jax.vmap(score)(jnp.asarray(x)))
    h = 0.8
    k = lambda a, b: jnp.exp(-jnp.sum((a - b) ** 2) / (2 * h * h))  # noqa: E731

    @jax.jit
    def u(a, b, sa, sb):
        return (sa @ sb * k(a, b) + sa @ jax.grad(k, 1)(a, b) + sb @ jax.grad(k, 0)(a, b)
                + jnp.trace(jax.jacfwd(jax.grad(k, 1), 0)(a, b)))

    brute = np.mean([float(u(x[i], x[j], s[i], s[j]))
                     for i in range(9) for j in range(9) if i != j])
    np.testing.assert_allclose(float(ksd2_unbiased(x, s, h)), brute, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(ksd(jnp.asarray(x), score, bandwidth=h).ksd2), brute,
                               rtol=1e-4, atol=1e-6)


def test_ksd_gaussian_closed_form_and_zero_for_exact_samples():
    # p = N(0, I), q = N(mu, I): KSD^2 = ||mu||^2 (h^2 / (h^2 + 2))^(d/2)
    d, h = 2, 1.2
    mu = np.array([0.8, -0.4])
    x = jax.random.normal(jax.random.key(5), (3000, d)) + mu
    est = float(ksd(x, lambda v: -v, bandwidth=h).ksd2)
    exact = np.sum(mu**2) * (h**2 / (h**2 + 2)) ** (d / 2)
    assert est == pytest.approx(exact, rel=0.15)
    x0 = jax.random.normal(jax.random.key(6), (3000, d))
    assert abs(float(ksd(x0, lambda v: -v, bandwidth=h).ksd2)) < 0.1 * exact


def test_mode_stats_known_case_and_ess():
    st = mode_stats(np.array([0, 0, 1, -1]), np.array([0.5, 0.3, 0.2]))
    assert st.coverage == pytest.approx(2 / 3)
    np.testing.assert_allclose(st.mass, [0.5, 0.25, 0.0])
    np.testing.assert_allclose(st.mass_error, [0.0, 0.05, 0.2])
    assert st.tv == pytest.approx(0.5 * (0.25 + 0.25))
    assert st.unassigned == 0.25
    assert mode_stats(np.array([0, 1]), np.array([0.5, 0.495, 0.005]),
                      min_weight=0.01).coverage == 1.0
    assert float(ess_from_log_weights(jnp.zeros(50))) == pytest.approx(50, rel=1e-5)
    assert float(ess_from_log_weights(jnp.array([0.0, -1e4, -1e4]))) == pytest.approx(1.0)
    w = np.array([1.0, 3.0])
    assert float(ess_from_log_weights(jnp.log(w))) == pytest.approx(16 / 10, rel=1e-5)
