"""GENNES (policysearch.strategies.gennes) and the optimisation benchmarks
(policysearch.density.benchmarks) against closed forms, autodiff and independent float64 formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from policysearch import strategies
from policysearch.density import make_target
from policysearch.density.benchmarks import BENCHMARK_NAMES
from policysearch.strategies.gennes import hidden_apply

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
        t64 = jnp.asarray(np.asarray(t.translation), jnp.float64)
        got = jax.vmap(t.value, in_axes=(0, None))(jnp.asarray(x, jnp.float64), t64)
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
    f_in, f_out = float(t.value(inside, t.translation)), float(t.value(outside, t.translation))
    assert f_out == pytest.approx(f_in + 100.0**2, rel=1e-5)
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


# ------------------------------------------------------------------ the GENNES strategy


def _gennes(rho=2, m=5, d=3, **kw):
    s = strategies.make("gennes", num_particles=rho, pop_size=m, dim=d, **kw)
    return s, s.default_params.replace(lower=-3.0, upper=3.0)


def test_initial_output_spread_means_and_domain():
    rho, d = 48, 10
    s, p = _gennes(rho=rho, m=4, d=d)
    x0 = jnp.asarray(np.random.default_rng(0).uniform(-2.5, 2.5, (rho, d)), jnp.float32)
    st = s.init(KEY, x0, p)
    np.testing.assert_allclose(np.asarray(s.means(st)), np.asarray(x0), atol=1e-4)   # G(0) = x0
    u = jax.random.uniform(jax.random.key(1), (rho, 1000, d), minval=-2.0, maxval=2.0)

    def pre_tanh(th, uu):
        w, b = th[-1]
        return hidden_apply(th[:-1], uu) @ w + b

    z = np.asarray(jax.vmap(pre_tanh)(st.theta, u))
    spread = np.sqrt(np.var(z, axis=1).mean())          # designed: init_spread = 1 over the noise
    assert abs(spread - 1.0) < 0.05, spread
    assert np.sqrt(np.var(z, axis=1).mean(-1)).min() > 0.7     # every generator, no collapse
    st2 = s.init(KEY, x0, p.replace(init_spread=0.25))
    z2 = np.asarray(jax.vmap(pre_tanh)(st2.theta, u))
    assert abs(np.sqrt(np.var(z2, axis=1).mean()) - 0.25) < 0.0125
    x, _ = s.ask(jax.random.key(2), st)
    assert x.shape == (rho, 4, d) and np.all(np.abs(np.asarray(x)) <= 3.0)


def test_update_equals_analytic_gradient_step_on_linear_objective():
    s, p = _gennes(rho=2, m=6, d=3)
    p = p.replace(learning_rate=1e-3)
    st = s.init(KEY, jnp.zeros((2, 3)), p)
    x, st = s.ask(jax.random.key(1), st)
    c = jnp.asarray([1.0, -2.0, 0.5])
    st1 = s.tell(x, x @ c, st, gradients=jnp.broadcast_to(c, x.shape))

    def numpy_gradient(theta, u):
        """grad_theta of 1/N sum_i c . G_theta(u_i) by hand-written float64 backpropagation."""
        layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in theta]
        hs, zs = [np.asarray(u, np.float64)], []
        for w, b in layers[:-1]:
            zs.append(hs[-1] @ w + b)
            hs.append(np.where(zs[-1] > 0, zs[-1], 0.2 * zs[-1]))
        w, b = layers[-1]
        out = np.tanh(hs[-1] @ w + b)
        dz = np.broadcast_to(np.asarray(c, np.float64) / len(u), out.shape) * 3.0 * (1 - out**2)
        grads = [(hs[-1].T @ dz, dz.sum(0))]
        dh = dz @ w.T
        for k in range(len(layers) - 2, -1, -1):
            dz = dh * np.where(zs[k] > 0, 1.0, 0.2)
            grads.insert(0, (hs[k].T @ dz, dz.sum(0)))
            dh = dz @ layers[k][0].T
        return grads

    for r in range(2):
        th = jax.tree.map(lambda a: a[r], st.theta)
        g = numpy_gradient(th, st.noise[r])
        for (w0, b0), (w1, b1), (gw, gb) in zip(th, jax.tree.map(lambda a: a[r], st1.theta), g):
            for old, new, grad in ((w0, w1, gw), (b0, b1, gb)):
                # Adam's first step: m_hat = g, v_hat = g^2 -> theta - lr g / (|g| + eps)
                want = np.asarray(old, np.float64) - 1e-3 * grad / (np.abs(grad) + 1e-8)
                np.testing.assert_allclose(np.asarray(new), want, rtol=1e-5, atol=2e-6)
    assert int(st1.generation) == 1
    # the step lowers the linear objective of the same noise
    before = np.asarray(jax.vmap(s._apply, (0, 0, None))(st.theta, st.noise, st.params) @ c).mean()
    after = np.asarray(jax.vmap(s._apply, (0, 0, None))(st1.theta, st.noise, st.params) @ c).mean()
    assert after < before


def test_gradients_in_tell_equal_autodiff_and_translation_is_data():
    t = make_target("rastrigin", dim=3, shift=0.5, seed=1)
    obj = lambda x: t.value(x, t.translation)  # noqa: E731
    s_auto, p = _gennes(objective=obj)
    s_given, _ = _gennes()
    st_a = s_auto.init(KEY, jnp.zeros((2, 3)), p)
    st_g = s_given.init(KEY, jnp.zeros((2, 3)), p)
    grad = jax.vmap(jax.vmap(jax.value_and_grad(t.value), (0, None)), (0, None))
    for k in jax.random.split(jax.random.key(3), 3):
        x, st_a = s_auto.ask(k, st_a)
        x2, st_g = s_given.ask(k, st_g)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(x2))
        f, g = grad(x, t.translation)
        st_a = s_auto.tell(x, f, st_a)
        st_g = s_given.tell(x, f, st_g, gradients=g)
    for a, b in zip(jax.tree.leaves(st_a), jax.tree.leaves(st_g)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    assert float(st_g.best_fitness) == pytest.approx(float(np.min(np.asarray(st_g.particle_best_fitness))))


def test_noise_annealing_and_traced_hyperparameters():
    s, p = _gennes(rho=1, m=50, d=2)
    p = p.replace(noise_init=1.5, anneal=0.5)
    st = s.init(KEY, jnp.zeros((1, 2)), p)
    before = s.tell._cache_size()
    for gen in range(4):
        a = 1.5 * 0.5**gen
        assert float(st.noise_scale) == pytest.approx(a)
        x, st = s.ask(jax.random.key(gen), st)
        assert np.abs(np.asarray(st.noise)).max() <= a and np.abs(np.asarray(st.noise)).max() > 0.8 * a
        st = s.tell(x, jnp.zeros((1, 50)), st, gradients=jnp.zeros_like(x))
    assert float(st.noise_scale) == pytest.approx(1.5 * 0.5**4)
    np.testing.assert_allclose(np.asarray(s.sigmas(st)), [1.5 * 0.5**4], rtol=1e-6)
    # outputs collapse onto G(0) as the noise support shrinks
    spread = lambda st: float(np.asarray(s.sample(jax.random.key(9), st, 200)).std(axis=1).mean())  # noqa: E731
    assert spread(st) < 0.2 * spread(s.init(KEY, jnp.zeros((1, 2)), p))
    # other numeric values reuse the compiled tell
    st = s.init(KEY, jnp.zeros((1, 2)), p.replace(learning_rate=3e-3, anneal=0.9, lower=-1.0, upper=2.0))
    x, st = s.ask(KEY, st)
    s.tell(x, jnp.zeros((1, 50)), st, gradients=jnp.zeros_like(x))
    assert s.tell._cache_size() == before + 1


def test_budget_anneal_reaches_one_percent_at_the_end_of_the_run():
    from policysearch import optimize
    from policysearch.config import ConfigError, make_strategy
    from tests.helpers import compose_cfg

    cfg = {"name": "gennes", "num_particles": 1, "pop_size": 5, "anneal": "budget"}
    s, p = make_strategy(cfg, 2, generations=60)
    assert float(p.anneal) == pytest.approx(0.01 ** (1 / 60), rel=1e-12)
    assert float(make_strategy({**cfg, "anneal": 0.9}, 2, generations=60)[1].anneal) == 0.9  # a number still works
    # 60 tells of the float32 strategy: a_60 = a0 / 100; the compiled tell is the one a number uses
    p = p.replace(lower=-3.0, upper=3.0)
    st = s.init(KEY, jnp.zeros((1, 2)), p.replace(anneal=0.9))
    x, st = s.ask(KEY, st)
    s.tell(x, jnp.zeros((1, 5)), st, gradients=jnp.zeros_like(x))
    before = s.tell._cache_size()
    st = s.init(KEY, jnp.zeros((1, 2)), p)
    for k in jax.random.split(KEY, 60):
        x, st = s.ask(k, st)
        st = s.tell(x, jnp.zeros((1, 5)), st, gradients=jnp.zeros_like(x))
    assert float(st.noise_scale) == pytest.approx(0.01 * float(p.noise_init), rel=1e-4)
    assert s.tell._cache_size() == before
    # optimize resolves it from the generations actually run (1010 evaluations in 4 chunks: 48)
    ov = ["function=rastrigin", "dim=2", "evaluations=1010", "progress_updates=4", "strategy.anneal=budget"]
    problem = optimize.build(compose_cfg(ov, config_name="optimize"), ov)
    assert problem.generations == 48 and float(problem.params.anneal) ** 48 == pytest.approx(0.01, rel=1e-9)
    with pytest.raises(ConfigError, match=r"^strategy.anneal='budget' needs the run's number of generations"):
        make_strategy(cfg, 2)
    with pytest.raises(ConfigError, match=r"^strategy.anneal='slow' is invalid: must be a number in \(0, 1\] or 'budget'"):
        make_strategy({**cfg, "anneal": "slow"}, 2, generations=60)


def test_gennes_input_errors():
    s, p = _gennes()
    st = s.init(KEY, jnp.zeros((2, 3)), p)
    x, st = s.ask(KEY, st)
    with pytest.raises(ValueError, match="needs gradients"):
        s.tell(x, jnp.zeros((2, 5)), st)
    with pytest.raises(ValueError, match="gradients has shape"):
        s.tell(x, jnp.zeros((2, 5)), st, gradients=jnp.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="anneal"):
        s.init(KEY, jnp.zeros((2, 3)), p.replace(anneal=1.5))
    with pytest.raises(ValueError, match="must be < upper"):
        s.init(KEY, jnp.zeros((2, 3)), p.replace(lower=1.0, upper=1.0))
    with pytest.raises(ValueError, match="learning_rate"):
        s.init(KEY, jnp.zeros((2, 3)), p.replace(learning_rate=0.0))
    with pytest.raises(ValueError, match="pop_size"):
        strategies.make("gennes", num_particles=1, pop_size=0, dim=3)
    with pytest.raises(ValueError, match="unknown option"):
        strategies.make("gennes", num_particles=1, pop_size=2, dim=3, source="es")
    # NaN gradients are ignored (no NaN parameters), NaN fitness is the worst value
    g = jnp.full(x.shape, jnp.nan)
    st = s.tell(x, jnp.full((2, 5), jnp.nan), st, gradients=g)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(st.theta))


# ------------------------------------------------------------------ folds (policysearch.optimize)
@pytest.fixture(scope="module")
def rastrigin5():
    """GENNES on Rastrigin d = 5 (paper settings, N = 20), 200 generations: folds 0, 1, 2
    vmapped, the same folds in another order, and fold 1 alone."""
    from policysearch import optimize
    from tests.helpers import compose_cfg

    ov = ["function=rastrigin", "dim=5", "evaluations=4000", "progress_updates=1", "strategy=gennes"]
    problem = optimize.build(compose_cfg(ov, config_name="optimize"), ov)
    runs = [optimize.run_folds(problem, ids) for ids in ([0, 1, 2], [1, 2, 0], [1])]
    return problem, *runs


def test_vmap_over_folds_equals_one_fold_alone(rastrigin5):
    problem, many, shuffled, one = rastrigin5
    assert many["best"].shape == (3, 200) and problem.evals_per_generation == 20
    # a fold's numbers do not depend on the other folds of the batch or its position: bitwise
    for key in ("best", "best_solution", "translations"):
        np.testing.assert_array_equal(many[key], shuffled[key][[2, 0, 1]])
    # alone (batch of 1, which XLA lowers to other kernels) it is the same run up to float32
    # rounding, which the chaotic dynamics amplify only after tens of generations
    np.testing.assert_array_equal(many["translations"][1], one["translations"][0])
    np.testing.assert_allclose(many["best"][1, :20], one["best"][0, :20], rtol=1e-4)
    # folds differ (own translation, init and seed) and the curves are best-so-far
    assert len({round(float(v), 4) for v in many["best"][:, -1]}) == 3
    assert np.all(np.diff(many["best"], axis=1) <= 0)
    # the recorded best is f at the recorded best point under the fold's own translation
    f = jax.vmap(problem.target.value)(jnp.asarray(many["best_solution"]), jnp.asarray(many["translations"]))
    np.testing.assert_allclose(np.asarray(f), many["best"][:, -1], rtol=1e-5, atol=1e-5)


def test_gennes_beats_uniform_random_search_on_small_rastrigin(rastrigin5):
    problem, many, _, _ = rastrigin5
    x = jax.random.uniform(jax.random.key(7), (3, 4000, 5), minval=-3.0, maxval=3.0)   # same budget
    f = jax.vmap(jax.vmap(problem.target.value, (0, None)))(x, jnp.asarray(many["translations"]))
    random_best = np.asarray(f.min(axis=1))
    gennes_best = many["best"][:, -1]
    assert gennes_best.mean() < 0.8 * random_best.mean(), (gennes_best, random_best)


def test_noise_dimension_and_x0_outside_the_domain():
    s, p = _gennes(rho=2, m=4, d=5, noise_dim=2)
    st = s.init(KEY, jnp.asarray([[9.0, -9.0, 0.0, 1.0, 2.0]] * 2), p)   # clipped into [-3, 3]
    x, st = s.ask(KEY, st)
    assert st.noise.shape == (2, 4, 2) and x.shape == (2, 4, 5)
    m = np.asarray(s.means(st))
    np.testing.assert_allclose(m[:, 2:], [[0.0, 1.0, 2.0]] * 2, atol=1e-4)
    assert np.all(m[:, 0] > 2.99) and np.all(m[:, 1] < -2.99) and np.all(np.abs(m) <= 3.0)
    st = s.tell(x, jnp.sum(x**2, -1), st, gradients=2 * x)
    assert int(st.generation) == 1 and np.isfinite(float(st.best_fitness))


@pytest.mark.parametrize("name", ["alpine1", "schwefel", "step"])
def test_separable_benchmark_exact_sampler_matches_numpy_cdf(name):
    t = make_target(name, dim=2, shift=0.5, seed=3)
    assert t.has_exact_sampler and t.ground_truth_method == "exact"
    x = np.asarray(t.sample(jax.random.key(0), 4000), np.float64)
    assert x.shape == (4000, 2)
    hw = t.halfwidth
    g = np.linspace(-hw - 6, hw + 6, 400001)
    for i in range(2):   # independent float64 CDF of coordinate i: exp(-f_i), trapezoid rule
        z = np.clip(g, -hw, hw) - float(t.translation[i])
        f = _np_formula(name, z[:, None]) + (g - np.clip(g, -hw, hw)) ** 2
        p = np.exp(-(f - f.min()))
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]))])
        cdf /= cdf[-1]
        xs = np.sort(x[:, i])
        ks = np.max(np.abs(np.interp(xs, g, cdf) - np.arange(1, len(xs) + 1) / len(xs)))
        assert ks < 0.03, (name, i, ks)
    assert not make_target("ackley", dim=2).has_exact_sampler
    assert make_target("ackley", dim=2).ground_truth_method == "nuts"
