"""Targets of policysearch.density against known answers (closed forms, exact samplers,
brute-force numpy re-implementations, scikit-learn)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from policysearch.density import (BayesianLogisticRegression, DoubleBanana, Funnel,
                                  GaussianMixture, MotionPlanning, Rings, load_dataset,
                                  load_dataset_file, make_target, mode_stats)
from policysearch.density.logreg import standardise
from policysearch.density.targets import TARGET_NAMES

KEY = jax.random.key(0)


# ------------------------------------------------------------------------- registry / views
def test_registry_builds_every_target_and_views_have_right_shapes():
    for name in TARGET_NAMES:
        t = make_target(name)
        x = jnp.zeros((3, 2, t.dim)) + 0.1
        f = t.fitness(x)
        assert f.shape == (3, 2) and np.all(np.isfinite(f))
        assert t.init_particles(KEY, 5).shape == (5, t.dim)
    np.testing.assert_allclose(t.fitness(x), -t.log_prob_batch(x), rtol=1e-6)
    assert t.score_batch(x).shape == (3, 2, t.dim)


def test_registry_errors_are_one_line_value_errors():
    with pytest.raises(ValueError, match="unknown target 'nope'"):
        make_target("nope")
    with pytest.raises(ValueError, match="bad parameters"):
        make_target("funnel", wrong=1)
    with pytest.raises(ValueError, match="funnel dim"):
        make_target("funnel", dim=1)


def test_params_hash_is_stable_and_changes_with_params():
    a, b = make_target("gmm"), make_target("gmm")
    assert a.params_hash() == b.params_hash()
    assert make_target("gmm", seed=1).params_hash() != a.params_hash()
    assert DoubleBanana(sigma=0.31).params_hash() != DoubleBanana().params_hash()


# ------------------------------------------------------------------------- Gaussian mixture
def test_gmm_log_prob_equals_scipy_mixture_pdf():
    t = GaussianMixture.random(num_modes=4, dim=3, seed=3)
    x = np.random.default_rng(0).normal(size=(50, 3)) * 4
    ref = np.log(sum(w * stats.multivariate_normal(m, s**2 * np.eye(3)).pdf(x)
                     for w, m, s in zip(t._weights, t._means, t._stds)))
    np.testing.assert_allclose(t.log_prob_batch(jnp.asarray(x)), ref, rtol=1e-5, atol=1e-4)


def test_gmm_exact_sampler_moments_and_mode_masses():
    t = GaussianMixture([[-3.0, 0.0], [3.0, 1.0]], weights=[0.25, 0.75], stds=[0.5, 1.0])
    x = np.asarray(t.sample(KEY, 40000))
    mean = 0.25 * np.array([-3, 0]) + 0.75 * np.array([3, 1])
    np.testing.assert_allclose(x.mean(0), mean, atol=0.05)
    st = mode_stats(np.asarray(t.mode_labels(x)), t.mode_weights())
    assert st.coverage == 1.0 and st.tv < 0.01


def test_gmm_random_reproducible_separated_and_validated():
    a = GaussianMixture.random(num_modes=6, dim=2, box=6, min_separation=3, seed=5)
    b = GaussianMixture.random(num_modes=6, dim=2, box=6, min_separation=3, seed=5)
    np.testing.assert_array_equal(a._means, b._means)
    d = np.linalg.norm(a._means[:, None] - a._means[None], axis=-1) + 1e9 * np.eye(6)
    assert d.min() >= 3
    assert abs(a._weights.sum() - 1) < 1e-12
    with pytest.raises(ValueError, match="could not place"):
        GaussianMixture.random(num_modes=10, dim=1, box=1, min_separation=3)
    assert make_target("gmm8").num_modes == 8 and make_target("gmm25").num_modes == 25


# ------------------------------------------------------------------------- double banana
def test_double_banana_matches_formula_and_hand_gradient():
    t = DoubleBanana()
    u = np.random.default_rng(1).normal(size=(20, 2))
    F = np.log((1 - u[:, 0]) ** 2 + 100 * (u[:, 1] - u[:, 0] ** 2) ** 2)
    y, s = math.log(30), 0.3
    ref = -0.5 * (u**2).sum(1) - (y - F) ** 2 / (2 * s**2)
    np.testing.assert_allclose(t.log_prob_batch(jnp.asarray(u)), ref, rtol=1e-4)
    # hand-derived gradient
    g = (1 - u[:, 0]) ** 2 + 100 * (u[:, 1] - u[:, 0] ** 2) ** 2
    dF = np.stack([(-2 * (1 - u[:, 0]) - 400 * u[:, 0] * (u[:, 1] - u[:, 0] ** 2)) / g,
                   200 * (u[:, 1] - u[:, 0] ** 2) / g], 1)
    ref_g = -u + ((y - F) / s**2)[:, None] * dF
    np.testing.assert_allclose(t.score_batch(jnp.asarray(u)), ref_g, rtol=2e-3, atol=2e-3)


# ------------------------------------------------------------------------- funnel
def test_funnel_normalised_log_prob_and_exact_sampler():
    t = Funnel(dim=3)
    x = np.random.default_rng(2).normal(size=(10, 3))
    ref = stats.norm(0, 3).logpdf(x[:, 0]) + stats.norm(0, np.exp(x[:, :1] / 2)).logpdf(x[:, 1:]).sum(1)
    np.testing.assert_allclose(t.log_prob_batch(jnp.asarray(x)), ref, rtol=1e-5)
    s = np.asarray(t.sample(KEY, 20000))
    assert stats.kstest(s[:, 0], stats.norm(0, 3).cdf).pvalue > 1e-3
    z = s[:, 1:] / np.exp(s[:, :1] / 2)
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3


# ------------------------------------------------------------------------- rings
def test_rings_normaliser_by_quadrature_and_exact_radial_law():
    t = Rings(radii=(0.5, 2.0), std=0.3, weights=(0.3, 0.7))
    # normalised: integral over a fine grid is 1
    g = np.linspace(-4, 4, 801)
    xx, yy = np.meshgrid(g, g)
    lp = t.log_prob_batch(jnp.asarray(np.stack([xx.ravel(), yy.ravel()], 1)))
    assert abs(np.exp(np.asarray(lp, np.float64)).sum() * (g[1] - g[0]) ** 2 - 1) < 2e-3
    # exact sampler: radius law p(rho) = sum_k pi_k 2 pi rho exp(-(rho - r_k)^2/2s^2) / Z_k
    x = np.asarray(t.sample(KEY, 20000))
    rho = np.linalg.norm(x, axis=1)
    r = np.linspace(0, 5, 20001)
    dens = sum(w * 2 * np.pi * r * np.exp(-(r - rk) ** 2 / (2 * 0.09) - lz)
               for w, rk, lz in zip(t._w, t._radii, t._log_z))
    cdf = np.cumsum(dens) * (r[1] - r[0])
    assert abs(cdf[-1] - 1) < 1e-3
    assert stats.kstest(rho, lambda q: np.interp(q, r, cdf)).pvalue > 1e-3
    ang = np.arctan2(x[:, 1], x[:, 0])
    assert stats.kstest(ang, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
    st = mode_stats(np.asarray(t.mode_labels(x)), t.mode_weights())
    assert st.tv < 0.02


# ------------------------------------------------------------------------- motion planning
def _mp_numpy_logp(t, x):
    w = np.concatenate([t._start[None], x.reshape(-1, 2), t._goal[None]])
    smooth = 0.5 * np.sum(np.diff(w, axis=0) ** 2) / t.smooth_std**2
    pts = []
    for a, b in zip(w[:-1], w[1:]):
        for j in range(t.points_per_segment):
            pts.append(a + j / t.points_per_segment * (b - a))
    pts.append(w[-1])
    pen = 0.0
    for q in pts:
        for cx, cy, r in t._obs:
            d = np.hypot(q[0] - cx, q[1] - cy)
            pen += np.logaddexp(0, (r - d) / t.obstacle_softness)
    return -smooth - t.obstacle_weight * pen


def test_motion_planning_matches_brute_force_and_prior_is_the_gaussian_bridge():
    t = MotionPlanning()
    assert t.dim == 12 and t.num_modes == 4
    x = np.asarray(t.prior_mean) + np.random.default_rng(3).normal(size=(5, 12))
    np.testing.assert_allclose(t.log_prob_batch(jnp.asarray(x)),
                               [_mp_numpy_logp(t, xi) for xi in x], rtol=1e-4)
    # smoothness term == Gaussian with precision tridiag(-1, 2, -1)/s^2 around the straight line
    K = t.K
    Q = (2 * np.eye(K) - np.eye(K, k=1) - np.eye(K, k=-1)) / t.smooth_std**2
    dx = (x - np.asarray(t.prior_mean)).reshape(5, K, 2)
    quad = 0.5 * np.einsum("nkc,kl,nlc->n", dx, Q, dx)
    lp0 = float(t.log_prior(t.prior_mean))
    np.testing.assert_allclose(np.asarray(jax.vmap(t.log_prior)(jnp.asarray(x))) - lp0, -quad,
                               rtol=1e-4)
    # and sample_prior draws from it: empirical covariance of waypoint 1 (x coordinate)
    s = np.asarray(t.sample_prior(KEY, 20000)).reshape(-1, K, 2)
    np.testing.assert_allclose(np.cov(s[:, :, 0].T), np.linalg.inv(Q), atol=0.05)


def test_motion_planning_homotopy_classes_of_hand_made_paths():
    t = MotionPlanning()
    xs = np.linspace(-5, 5, 8)[1:-1]

    def path(y):
        return np.stack([xs, y], 1).ravel()

    above = path(np.full(6, 2.5))
    below = path(np.full(6, -2.5))
    s_curve = path(np.where(xs < 0, -1.5, 1.5))   # below obstacle 0, above obstacle 1
    z_curve = path(np.where(xs < 0, 2.5, -2.5))   # above obstacle 0, below obstacle 1
    labels = np.asarray(t.mode_labels(jnp.asarray(np.stack([above, below, s_curve, z_curve]))))
    names = t.class_names()
    assert [names[i] for i in labels] == ["above-above", "below-below", "below-above",
                                           "above-below"]
    # point symmetry of the default scene: rotating a path by 180 degrees and reversing it
    # leaves log p unchanged and swaps above-above <-> below-below
    x = np.asarray(t.prior_mean) + np.random.default_rng(4).normal(size=12)
    rot = (-x.reshape(6, 2))[::-1].ravel()
    np.testing.assert_allclose(t.log_prob(jnp.asarray(x)), t.log_prob(jnp.asarray(rot)), rtol=1e-5)


# ------------------------------------------------------------------------- logistic regression
def test_logreg_log_prob_formula_and_map_equals_sklearn():
    from scipy.optimize import minimize
    from sklearn.linear_model import LogisticRegression

    t = make_target("logreg", dataset="iris", alpha=2.0)
    X, y = np.asarray(t._x), np.asarray(t._y)
    w = np.random.default_rng(5).normal(size=t.dim) * 0.3
    z = X @ w
    ref = np.sum(y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z)) - 1.0 * w @ w
    np.testing.assert_allclose(float(t.log_prob(jnp.asarray(w))), ref, rtol=1e-5)

    f = jax.jit(lambda v: -t.log_prob(v))
    g = jax.jit(jax.grad(lambda v: -t.log_prob(v)))
    res = minimize(lambda v: float(f(jnp.asarray(v, jnp.float32))), np.zeros(t.dim),
                   jac=lambda v: np.asarray(g(jnp.asarray(v, jnp.float32)), np.float64),
                   method="L-BFGS-B", options={"gtol": 1e-7})
    sk = LogisticRegression(C=1 / 2.0, fit_intercept=False, tol=1e-10, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(res.x, sk.coef_[0], atol=2e-3)


def test_logreg_hierarchical_density_formula():
    x = standardise(np.random.default_rng(6).normal(size=(30, 2)))
    y = (np.random.default_rng(7).random(30) > 0.5).astype(float)
    t = BayesianLogisticRegression(x, y, hierarchical=True, a0=1.0, b0=0.01)
    assert t.dim == 4
    th = np.array([0.3, -0.2, 0.1, 0.5])
    w, la = th[:3], th[3]
    z = x @ w
    ll = np.sum(y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z))
    # N(w; 0, 1/a) up to constants + Gamma(a; 1, 0.01) density + log-Jacobian log a
    ref = ll + 1.5 * la - 0.5 * np.exp(la) * w @ w + (1 - 1) * la - 0.01 * np.exp(la) + la
    np.testing.assert_allclose(float(t.log_prob(jnp.asarray(th))), ref, rtol=1e-5)


def test_dataset_loaders_sklearn_and_local_files(tmp_path):
    X, y = load_dataset("breast_cancer")
    assert X.shape == (569, 30) and set(np.unique(y)) == {0.0, 1.0}
    with pytest.raises(ValueError, match="does not ship"):
        load_dataset("credit")
    # german-credit-like whitespace file with labels 1/2, no header
    rows = np.random.default_rng(8).integers(0, 5, size=(12, 4)).astype(float)
    lab = np.array([1, 2] * 6)
    p = tmp_path / "german.data-numeric"
    np.savetxt(p, np.column_stack([rows, lab]), fmt="%g")
    Xc, yc = load_dataset_file(str(p))
    np.testing.assert_array_equal(Xc, rows)
    np.testing.assert_array_equal(yc, (lab == 2).astype(float))
    # covtype-like csv with header and 3 classes, label in column 0
    c = tmp_path / "covtype.csv"
    table = np.column_stack([np.array([1, 2, 3, 2, 1, 2]), np.arange(12.0).reshape(6, 2)])
    c.write_text("label,a,b\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in table))
    with pytest.raises(ValueError, match="positive_class"):
        load_dataset_file(str(c), label_column=0)
    Xv, yv = load_dataset_file(str(c), label_column=0, positive_class=2)
    np.testing.assert_array_equal(yv, [0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(Xv, table[:, 1:])
    # npz + subsampling, and the target built from the file
    z = tmp_path / "d.npz"
    np.savez(z, X=np.random.default_rng(9).normal(size=(40, 3)), y=np.arange(40) % 2)
    t = make_target("logreg", dataset="credit", path=str(z), max_rows=25)
    assert t.num_data == 25 and t.dim == 4
    with pytest.raises(ValueError, match="does not exist"):
        load_dataset_file(str(tmp_path / "missing.csv"))
