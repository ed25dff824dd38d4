"""Tests for policysearch.kernels (RBF kernel, bandwidths, repulsion, SVGD field, gamma schedules)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from policysearch import kernels


@pytest.fixture(scope="module")
def x():
    return jax.random.normal(jax.random.key(0), (6, 3)) * 2.0


def test_rbf_kernel_values():
    a, b = jnp.array([0.0, 0.0]), jnp.array([3.0, 4.0])
    assert float(kernels.rbf_kernel(a, b, 2.0)) == pytest.approx(math.exp(-25 / 8), rel=1e-6)
    assert float(kernels.rbf_kernel(a, a, 0.3)) == 1.0


def test_kernel_matrix_matches_pointwise(x):
    K = kernels.kernel_matrix(x, 1.7)
    ref = jax.vmap(lambda a: jax.vmap(lambda b: kernels.rbf_kernel(a, b, 1.7))(x))(x)
    np.testing.assert_allclose(K, ref, rtol=1e-6)
    np.testing.assert_allclose(K, K.T)


def test_median_bandwidth_formula(x):
    xn = np.asarray(x, np.float64)
    d = [np.linalg.norm(xn[i] - xn[j]) for i in range(6) for j in range(i + 1, 6)]
    h2 = np.median(d) ** 2 / (2 * np.log(6 + 1))
    assert float(kernels.median_bandwidth(x)) ** 2 == pytest.approx(h2, rel=1e-5)
    assert float(kernels.bandwidth(x, "median", 123.0)) ** 2 == pytest.approx(h2, rel=1e-5)
    assert float(kernels.bandwidth(x, "fixed", 0.7)) == pytest.approx(0.7)


def test_bandwidth_finite_for_identical_particles():
    x = jnp.ones((4, 3))
    h = kernels.bandwidth(x, "median", 1.0)
    assert float(h) > 0
    np.testing.assert_array_equal(kernels.repulsion(x, h), 0.0)


def test_repulsion_is_sum_of_kernel_gradients(x):
    h = 1.3
    grad_first = jax.grad(kernels.rbf_kernel, argnums=0)
    ref = jax.vmap(lambda xi: jnp.sum(jax.vmap(lambda xj: grad_first(xj, xi, h))(x), axis=0))(x)
    np.testing.assert_allclose(kernels.repulsion(x, h), ref, rtol=1e-5, atol=1e-6)


def test_svgd_direction_naive(x):
    h = 0.9
    g = jax.random.normal(jax.random.key(1), x.shape)
    n = x.shape[0]
    ref = np.zeros(x.shape)
    xn, gn = np.asarray(x, np.float64), np.asarray(g, np.float64)
    for i in range(n):
        for j in range(n):
            k = math.exp(-np.sum((xn[j] - xn[i]) ** 2) / (2 * h * h))
            ref[i] += (k * gn[j] + k * (xn[i] - xn[j]) / h**2) / n
    np.testing.assert_allclose(kernels.svgd_direction(x, g, h), ref, rtol=1e-5, atol=1e-6)


def test_gamma_schedules():
    T = 200.0
    gs = lambda name, t: float(kernels.gamma_schedule(name, t, T))  # noqa: E731
    assert gs("constant", 0.0) == gs("constant", 0.7) == 1.0
    assert gs("inverse", 0.0) == pytest.approx(T)  # T / (t + 1) at generation 0
    assert gs("inverse", 9 / T) == pytest.approx(T / 10)
    assert gs("inverse", 1.0) == pytest.approx(T / (T + 1))
    assert gs("log", 0.0) == pytest.approx(math.log(T), rel=1e-6)
    assert gs("log", 10 / T) == pytest.approx(math.log(20.0), rel=1e-6)
    assert gs("log", 0.5) == 1.0  # floor
    assert gs("linear", 0.0) == 1.0 and gs("linear", 0.25) == 0.75 and gs("linear", 1.0) == 0.0
    assert gs("linear", 3.0) == 0.0  # time past the horizon is clipped
    # jit-able with traced t and T
    out = jax.jit(lambda t, T: kernels.gamma_schedule("log", t, T))(0.1, 50.0)
    assert np.isfinite(float(out))


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="unknown gamma schedule 'cosine'.*constant, inverse, log, linear"):
        kernels.gamma_schedule("cosine", 0.0, 10.0)
    with pytest.raises(ValueError, match="unknown bandwidth rule 'mean'.*median, fixed"):
        kernels.bandwidth(jnp.zeros((3, 2)), "mean", 1.0)
    with pytest.raises(ValueError, match="at least 2 particles"):
        kernels.median_bandwidth(jnp.zeros((1, 2)))
