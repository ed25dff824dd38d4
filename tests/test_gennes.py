"""GENNES (policysearch.strategies.gennes) and the optimisation benchmarks
(policysearch.density.benchmarks) against closed forms, autodiff and independent float64 formulas."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from policysearch.density import make_target
from policysearch.density.benchmarks import BENCHMARK_NAMES

KEY = jax.random.key(0)


# ------------------------------------------------------------------ benchmark functions
def _np_formula(name, z):
    """Independent float64 numpy formulas (REFERENCE.md sec. 8), z: [n, d]."""
    d = z.shape[-1]
    if name == "rastrigin":
        return 10 * d + np.sum(z**2 - 10 * np.cos(2 * np.pi * z), -1)
    if name == "ackley":
        return (-20 * np.exp(-0.2 * np.sqrt(np.mean(z**2, -1))) - np.exp(np.mean(np.cos(2 * np.pi * z), -1))
                + 20 + np.e)
    if name == "styblinski":
        return np.sum(z**4 - 16 * z**2 + 5 * z, -1) / 2 + 39.16616570377142 * d
    if name == "schwefel":
        return 418.9828872724338 * d - np.sum(z * np.sin(np.sqrt(np.abs(z))), -1)
    if name == "alpine1":
        return np.sum(np.abs(z * np.sin(z) + 0.1 * z), -1)
    if name == "step":
        return np.sum(np.floor(z + 0.5) ** 2, -1)
    raise AssertionError(name)


_XSTAR = {"styblinski": -2.903534, "schwefel": 420.968746}


@pytest.mark.parametrize("name", BENCHMARK_NAMES)
def test_benchmark_matches_float64_formula_and_is_zero_at_translated_optimum(name):
    d = 7
    t = make_target(name, dim=d, shift=2.0, seed=4)
    assert np.all(np.abs(np.asarray(t.translation)) <= 2.0) and np.any(np.asarray(t.translation) != 0)
    rng = np.random.default_rng(1)
    # random points in the domain, every sign present (catches the paper's missing |.|)
    x = rng.uniform(t.lower, t.upper, size=(64, d))
    z = x - np.asarray(t.translation, np.float64)
    want = _np_formula(name, z)
    with jax.enable_x64(True):
        got = jax.vmap(t.value, in_axes=(0, None))(jnp.asarray(x, jnp.float64), jnp.asarray(np.asarray(t.translation), jnp.float64))
        got = np.asarray(got)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    # float32 view (fitness = f, log_prob = -f)
    np.testing.assert_allclose(np.asarray(t.fitness(jnp.asarray(x, jnp.float32))), want, rtol=2e-4, atol=2e-3)
    np.testing.assert_allclose(np.asarray(t.fitness(x[:3])), -np.asarray(t.log_prob_batch(x[:3])), rtol=1e-6)
    # 0 at the translated optimum, >= 0 around it, and the independent formula agrees
    xs = np.asarray(t.optimum(), np.float64)
    np.testing.assert_allclose(xs, _XSTAR.get(name, 0.0) + np.asarray(t.translation), atol=1e-5)
    assert abs(_np_formula(name, (xs - np.asarray(t.translation))[None])[0]) < 1e-6 * d
    f_star = float(t.fitness(jnp.asarray(xs, jnp.float32)))
    assert abs(f_star) < (2e-3 if name == "schwefel" else 1e-5)
    assert np.all(np.asarray(t.fitness(jnp.asarray(x, jnp.float32))) > f_star)


def test_benchmark_outside_domain_is_penalised_and_nonnegative():
    t = make_target("schwefel", dim=3, shift=0.0)
    inside = jnp.asarray([500.0, 0.0, 0.0])
    outside = jnp.asarray([600.0, 0.0, 0.0])   # raw Schwefel formula is lower out there
    assert float(t.value(outside, t.translation)) == pytest.approx(float(t.value(inside, t.translation)) + 100.0**2, rel=1e-5)
    far = (20.5 * np.pi) ** 2   # sin sqrt(far) = 1
    assert _np_formula("schwefel", np.array([[far, 0, 0]]))[0] < 0   # why the penalty exists
    assert float(t.value(jnp.asarray([far, 0.0, 0.0]), t.translation)) > 0
    g = jax.grad(t.value)(outside, t.translation)
    assert g[0] > 0 and np.all(np.isfinite(np.asarray(g)))


def test_benchmark_gradients_finite_at_kinks_and_translation_is_traced():
    for name in ("ackley", "schwefel", "alpine1"):
        t = make_target(name, dim=3, shift=0.0)
        g = jax.grad(t.value)(jnp.zeros(3), jnp.zeros(3))
        assert np.all(np.isfinite(np.asarray(g))), name
    t = make_target("rastrigin", dim=4)
    traces = []

    @jax.jit
    def f(x, tr):
        traces.append(1)
        return t.value(x, tr)

    for k in range(3):
        tr = t.random_translations(jax.random.key(k), 1)[0]
        assert float(f(tr, tr)) == pytest.approx(0.0, abs=1e-5)
    assert len(traces) == 1


def test_benchmark_bad_parameters():
    with pytest.raises(ValueError, match="dim=0"):
        make_target("ackley", dim=0)
    with pytest.raises(ValueError, match="shift=-1"):
        make_target("ackley", shift=-1.0)
    with pytest.raises(ValueError, match="shift=4"):
        make_target("rastrigin", shift=4.0)
    assert make_target("step").differentiable is False
    assert make_target("alpine1").differentiable is True
