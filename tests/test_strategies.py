"""Tests for policysearch.strategies: parity with evosax / blackjax, protocol, errors, sanity."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from blackjax.vi import svgd as bj_svgd
from evosax.algorithms import CMA_ES, SV_CMA_ES
from jax.flatten_util import ravel_pytree

from policysearch import kernels
from policysearch.strategies import CMAES, MPCMAES, STRATEGY_NAMES, SVCMAES, SVGD, make

TOL = dict(rtol=1e-5, atol=1e-5)


def objective(x):
    """A structured test function on [..., d] (minimised)."""
    return jnp.sum(jnp.square(x - 1.0), axis=-1) + jnp.sin(3.0 * x[..., 0])


# --------------------------------------------------------------------------- evosax parity
def _sv_parity_max_diffs(alpha_ours_factor=1.0, rho=4, m=8, d=5, gens=6, alpha=0.7, kstd=2.0, sigma=0.5):
    """Run evosax SV_CMA_ES and ours side by side on evosax's offspring; max abs diffs per field."""
    es = SV_CMA_ES(population_size=m, num_populations=rho, solution=jnp.zeros(d))
    ep = es.default_params.replace(kernel_std=kstd, alpha=alpha, std_init=sigma)
    x0 = jax.random.normal(jax.random.key(0), (rho, d))
    es_state = es.init(jax.random.key(1), x0, ep)
    ours = SVCMAES(rho, m, d, schedule="constant", bandwidth="fixed", eigen_interval=1, sampling="eigen")
    p = ours.default_params.replace(kernel_std=kstd, alpha=alpha * alpha_ours_factor, sigma_init=sigma)
    st = ours.init(jax.random.key(1), x0, p)
    diffs = {k: 0.0 for k in ("offspring@0", "mean", "sigma", "p_sigma", "p_c", "C")}
    key = jax.random.key(5)
    for g in range(gens):
        key, k1, k2 = jax.random.split(key, 3)
        pop, es_state = es.ask(k1, es_state, ep)
        off, st = ours.ask(k1, st)
        if g == 0:
            diffs["offspring@0"] = float(jnp.abs(pop.reshape(rho, m, d) - off).max())
        fit = objective(pop)
        es_state, _ = es.tell(k2, pop, fit, es_state, ep)
        st = ours.tell(pop.reshape(rho, m, d), fit.reshape(rho, m), st)
        for a, b in (("mean", "mean"), ("std", "sigma"), ("p_std", "p_sigma"), ("p_c", "p_c"), ("C", "C")):
            ref, got = np.asarray(getattr(es_state, a)), np.asarray(getattr(st, b))
            err = np.max(np.abs(ref - got) / (TOL["atol"] + TOL["rtol"] * np.abs(ref)))
            diffs[b] = max(diffs[b], float(err))
    return diffs


@pytest.mark.parametrize("alpha,kstd", [(0.7, 2.0), (6.0, 1.5)])  # the second: large steps, h_sigma = 0 early
def test_sv_cma_es_parity_with_evosax(alpha, kstd):
    diffs = _sv_parity_max_diffs(alpha=alpha, kstd=kstd)
    assert diffs.pop("offspring@0") == 0.0
    # every field within rtol=atol=1e-5 over all generations (normalised error <= 1)
    assert all(v <= 1.0 for v in diffs.values()), diffs


def test_sv_cma_es_parity_detects_perturbation():
    diffs = _sv_parity_max_diffs(alpha_ours_factor=1.01)
    diffs.pop("offspring@0")
    assert max(diffs.values()) > 1.0, diffs


def test_gamma_zero_equals_independent_evosax_cma_es():
    rho, m, d, sigma = 3, 6, 4, 0.8
    ours = MPCMAES(rho, m, d, eigen_interval=1)
    x0 = jax.random.normal(jax.random.key(2), (rho, d))
    st = ours.init(jax.random.key(0), x0, ours.default_params.replace(sigma_init=sigma))
    es = CMA_ES(population_size=m, solution=jnp.zeros(d))
    ep = es.default_params.replace(std_init=sigma)
    es_states = [es.init(jax.random.key(0), x0[i], ep) for i in range(rho)]
    key = jax.random.key(3)
    for _ in range(6):
        key, k1 = jax.random.split(key)
        off, st = ours.ask(k1, st)
        fit = objective(off)
        st = ours.tell(off, fit, st)
        for i in range(rho):
            _, es_states[i] = es.ask(k1, es_states[i], ep)  # eigendecomposition (offspring unused)
            es_states[i], _ = es.tell(k1, off[i], fit[i], es_states[i], ep)
            np.testing.assert_allclose(st.mean[i], es_states[i].mean, **TOL)
            np.testing.assert_allclose(st.sigma[i], es_states[i].std, **TOL)
            np.testing.assert_allclose(st.p_sigma[i], es_states[i].p_std, **TOL)
            np.testing.assert_allclose(st.p_c[i], es_states[i].p_c, **TOL)
            np.testing.assert_allclose(st.C[i], es_states[i].C, **TOL)


def test_cma_es_equals_evosax_cma_es_including_ask():
    m, d = 8, 3
    ours = CMAES(m, d, eigen_interval=1, sampling="eigen")
    es = CMA_ES(population_size=m, solution=jnp.zeros(d))
    ep = es.default_params.replace(std_init=0.3)
    x0 = jnp.array([0.5, -1.0, 2.0])
    st = ours.init(jax.random.key(0), x0, ours.default_params.replace(sigma_init=0.3))
    es_st = es.init(jax.random.key(0), x0, ep)
    key = jax.random.key(7)
    for _ in range(8):
        key, k1 = jax.random.split(key)
        off, st = ours.ask(k1, st)
        pop, es_st = es.ask(k1, es_st, ep)
        np.testing.assert_allclose(off[0], pop, rtol=1e-4, atol=1e-4)
        fit = objective(pop)
        st = ours.tell(pop[None], fit[None], st)
        es_st, _ = es.tell(k1, pop, fit, es_st, ep)
        np.testing.assert_allclose(st.mean[0], es_st.mean, **TOL)
        np.testing.assert_allclose(st.C[0], es_st.C, **TOL)
        np.testing.assert_allclose(st.sigma[0], es_st.std, **TOL)
    assert ours.means(st).shape == (1, d)


@pytest.mark.parametrize("low_memory", [False, True])
def test_lazy_eigendecomposition_is_staggered(low_memory):
    rho, k = 4, 3
    s = SVCMAES(rho, 6, 3, eigen_interval=k, low_memory=low_memory)
    st = s.init(jax.random.key(0), jax.random.normal(jax.random.key(1), (rho, 3)))
    prev_B = np.asarray(st.B)
    key = jax.random.key(2)
    for g in range(7):
        key, k1 = jax.random.split(key)
        off, st = s.ask(k1, st)
        B = np.asarray(st.B)
        for i in range(rho):
            changed = not np.array_equal(B[i], prev_B[i])
            due = g % k == i % k
            if g > 0:  # at g = 0, C = I and its eigenvectors may equal the initial B
                assert changed == due, (g, i)
            elif not due:
                assert not changed
        prev_B = B
        st = s.tell(off, objective(off), st)


def test_low_memory_update_matches_vectorised():
    a = SVCMAES(3, 6, 4, eigen_interval=1, low_memory=False)
    b = SVCMAES(3, 6, 4, eigen_interval=1, low_memory=True)
    x0 = jax.random.normal(jax.random.key(0), (3, 4))
    sa, sb = a.init(None, x0), b.init(None, x0)
    key = jax.random.key(1)
    for _ in range(4):
        key, k1 = jax.random.split(key)
        off, sa = a.ask(k1, sa)
        _, sb = b.ask(k1, sb)
        sa, sb = a.tell(off, objective(off), sa), b.tell(off, objective(off), sb)
    for f in ("mean", "sigma", "p_sigma", "p_c", "C"):
        np.testing.assert_allclose(getattr(sa, f), getattr(sb, f), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- blackjax parity
def _blackjax_vs_ours(optimizer_name, tx, h, steps):
    n, d = 6, 3
    x0 = jax.random.normal(jax.random.key(0), (n, d)) * 1.5

    def f(x):
        return 0.5 * jnp.sum(jnp.square(x - jnp.array([1.0, -0.5, 0.3]))) + 0.1 * jnp.sum(x**4)

    bj_state = bj_svgd.init(x0, {"length_scale": 2.0 * h * h}, tx)  # exp(-|x-y|^2 / (2 h^2))
    bj_step = bj_svgd.build_kernel(tx)
    ours = SVGD(n, 1, d, source="autodiff", objective=f, optimizer=optimizer_name, bandwidth="fixed")
    st = ours.init(None, x0, ours.default_params.replace(kernel_std=h, learning_rate=0.05))
    for _ in range(steps):
        bj_state = bj_step(bj_state, jax.grad(lambda x: -f(x)), bj_svgd.rbf_kernel)
        off, st = ours.ask(None, st)
        st = ours.tell(off, jax.vmap(f)(off[:, 0])[:, None], st)
        np.testing.assert_allclose(ours.means(st), bj_state.particles, rtol=1e-5, atol=1e-5)
    return x0


@pytest.mark.parametrize("name,tx", [("adam", optax.adam(0.05)), ("sgd", optax.sgd(0.05))])
def test_svgd_autodiff_parity_with_blackjax(name, tx):
    _blackjax_vs_ours(name, tx, h=0.9, steps=4)


def test_svgd_median_bandwidth_step_matches_blackjax():
    n, d = 5, 2
    x0 = jax.random.normal(jax.random.key(4), (n, d))
    f = lambda x: jnp.sum(x**2)  # noqa: E731
    h = float(kernels.median_bandwidth(x0))
    tx = optax.sgd(0.1)
    bj = bj_svgd.build_kernel(tx)(bj_svgd.init(x0, {"length_scale": 2 * h * h}, tx), jax.grad(lambda x: -f(x)), bj_svgd.rbf_kernel)
    ours = SVGD(n, 1, d, source="autodiff", objective=f, optimizer="sgd")  # median bandwidth
    st = ours.init(None, x0, ours.default_params.replace(learning_rate=0.1))
    off, st = ours.ask(None, st)
    st = ours.tell(off, jnp.zeros((n, 1)), st)
    np.testing.assert_allclose(st.x, bj.particles, rtol=1e-5, atol=1e-6)
    assert float(st.bandwidth) == pytest.approx(h, rel=1e-6)


def test_svgd_adagrad_momentum_matches_reference_rule():
    n, d, lr = 5, 2, 0.05
    f = lambda x: jnp.sum((x - 1.0) ** 2)  # noqa: E731
    ours = SVGD(n, 1, d, source="autodiff", objective=f, bandwidth="fixed")
    st = ours.init(None, jax.random.normal(jax.random.key(0), (n, d)), ours.default_params.replace(learning_rate=lr))
    x = np.asarray(st.x, np.float64)
    hist = np.zeros_like(x)
    for it in range(4):
        phi = np.asarray(kernels.svgd_direction(jnp.asarray(x, jnp.float32), -jax.vmap(jax.grad(f))(jnp.asarray(x, jnp.float32)), 1.0))
        hist = hist + phi**2 if it == 0 else 0.9 * hist + 0.1 * phi**2
        x = x + lr * phi / (1e-6 + np.sqrt(hist))
        off, st = ours.ask(None, st)
        st = ours.tell(off, jnp.zeros((n, 1)), st)
        np.testing.assert_allclose(st.x, x, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- protocol
SMOKE = [
    ("sv_cma_es", 2, 4, 1, {}),  # the smallest sizes allowed: 2 particles, 1 dimension
    ("cma_es", 1, 6, 3, {}),
    ("mp_cma_es", 3, 4, 2, {}),
    ("svgd", 3, 4, 2, {"source": "es"}),
    ("svgd", 3, 1, 2, {"source": "autodiff", "objective": lambda x: jnp.sum(x**2)}),
    ("svgd", 3, 1, 2, {"source": "surrogate", "optimizer": "adam"}),
]


@pytest.mark.parametrize("name,rho,m,d,static", SMOKE, ids=[f"{s[0]}-{i}" for i, s in enumerate(SMOKE)])
def test_jit_scan_vmap_over_seeds(name, rho, m, d, static):
    s = make(name, rho, m, d, **static)
    params = s.default_params

    def run(key):
        state = s.init(key, jax.random.normal(key, (rho, d)), params)

        def step(state, k):
            off, state = s.ask(k, state)
            return s.tell(off, jnp.sum(jnp.square(off - 0.3), axis=-1), state), None

        state, _ = jax.lax.scan(step, state, jax.random.split(key, 4))
        return state

    keys = jax.vmap(jax.random.key)(jnp.arange(3))
    state = jax.jit(jax.vmap(run))(keys)
    means = jax.vmap(s.means)(state)
    assert means.shape == (3, rho, d)
    assert np.all(np.isfinite(means))
    assert np.all(np.asarray(state.generation) == 4)
    assert np.all(np.isfinite(state.best_fitness)) and state.best_solution.shape == (3, d)
    assert jax.vmap(s.sigmas)(state).shape == (3, rho)


def test_ask_shapes_and_best_tracking():
    s = make("sv_cma_es", 3, 6, 4, eigen_interval=1)
    st = s.init(jax.random.key(0), jnp.zeros((3, 4)))
    off, st = s.ask(jax.random.key(1), st)
    assert off.shape == (3, 6, 4)
    fit = jnp.arange(18.0).reshape(3, 6)[:, ::-1]
    st = s.tell(off, fit, st)
    assert float(st.best_fitness) == 0.0
    np.testing.assert_array_equal(st.best_solution, off[0, 5])
    np.testing.assert_array_equal(st.particle_best_fitness, [0.0, 6.0, 12.0])
    assert int(st.generation) == 1


def test_numeric_params_do_not_retrace():
    s = make("sv_cma_es", 3, 4, 2)
    traces = []

    def run(params):
        traces.append(1)
        st = s.init(None, jnp.zeros((3, 2)), params)
        off, st = s.ask(jax.random.key(0), st)
        return s.tell(off, jnp.sum(off**2, -1), st).mean

    f = jax.jit(run)
    p = s.default_params
    f(p)
    f(p.replace(sigma_init=0.3, alpha=2.0, kernel_std=0.5, num_generations=50.0))
    assert len(traces) == 1


def test_seed_results_independent_of_number_of_seeds_with_lax_map():
    s = make("sv_cma_es", 3, 4, 3)

    def run(key):
        st = s.init(key, jax.random.normal(key, (3, 3)))

        def step(st, k):
            off, st = s.ask(k, st)
            return s.tell(off, objective(off), st), None

        return jax.lax.scan(step, st, jax.random.split(key, 10))[0].mean

    keys = jax.vmap(jax.random.key)(jnp.arange(3))
    alone = jax.jit(run)(keys[0])  # = lax.map over 1 seed (same shapes)
    np.testing.assert_array_equal(jax.jit(lambda k: jax.lax.map(run, k))(keys)[0], alone)


def test_flat_vectors_from_multi_leaf_flax_params():
    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(1)(nn.tanh(nn.Dense(4)(x)))

    model = MLP()
    params = model.init(jax.random.key(0), jnp.zeros(2))
    assert len(jax.tree.leaves(params)) == 4
    flat0, unravel = ravel_pytree(params)
    rho, m, d = 3, 6, flat0.size
    xs = jax.random.normal(jax.random.key(1), (8, 2))

    def loss(flat):
        return jnp.mean(jnp.square(model.apply(unravel(flat), xs)[:, 0] - jnp.sin(xs[:, 0])))

    x0 = flat0 + 0.1 * jax.random.normal(jax.random.key(2), (rho, d))
    for name, small in (("sv_cma_es", dict(sigma_init=0.1)), ("svgd", dict(sigma=0.1, learning_rate=0.02))):
        s = make(name, rho, m, d)
        st = s.init(jax.random.key(3), x0, s.default_params.replace(**small))
        f0 = float(jnp.min(jax.vmap(loss)(x0)))

        def step(st, k, s=s):
            off, st = s.ask(k, st)
            return s.tell(off, jax.vmap(jax.vmap(loss))(off), st), None

        st, _ = jax.jit(lambda st: jax.lax.scan(step, st, jax.random.split(jax.random.key(4), 30)))(st)
        trees = [unravel(v) for v in s.means(st)]
        assert jax.tree.structure(trees[0]) == jax.tree.structure(params)
        assert float(st.best_fitness) < f0


def test_evosax_sv_es_tell_fails_on_multi_leaf_pytrees():
    """Documents why the strategies work on flat vectors (REFERENCE.md section 2)."""

    params = {"a": jnp.zeros((2, 3)), "b": jnp.zeros(3)}
    es = SV_CMA_ES(population_size=4, num_populations=2, solution=params)
    means = jax.tree.map(lambda a: jnp.stack([a, a + 0.1]), params)
    st = es.init(jax.random.key(0), means, es.default_params)
    pop, st = es.ask(jax.random.key(1), st, es.default_params)
    with pytest.raises(ValueError, match="inconsistent sizes"):
        es.tell(jax.random.key(2), pop, jnp.zeros(8), st, es.default_params)


# --------------------------------------------------------------------------- robustness
def test_nan_fitness_is_worst():
    s = make("sv_cma_es", 3, 6, 4, eigen_interval=1)
    st = s.init(None, jax.random.normal(jax.random.key(0), (3, 4)))
    off, st = s.ask(jax.random.key(1), st)
    fit = objective(off)
    st_nan = s.tell(off, fit.at[:, 0].set(jnp.nan), st)
    st_inf = s.tell(off, fit.at[:, 0].set(jnp.inf), st)
    for f in ("mean", "sigma", "C"):
        np.testing.assert_array_equal(getattr(st_nan, f), getattr(st_inf, f))
    st_all = s.tell(off, fit.at[1].set(jnp.nan), st)  # one sub-population failed entirely
    assert np.all(np.isfinite(st_all.mean)) and np.all(np.isfinite(st_all.C))
    assert np.isfinite(float(st_all.best_fitness))
    sv = make("svgd", 3, 4, 2)
    s2 = sv.init(None, jnp.zeros((3, 2)))
    off, s2 = sv.ask(jax.random.key(0), s2)
    s2 = sv.tell(off, jnp.full((3, 4), jnp.nan).at[0, 0].set(1.0), s2)
    assert np.all(np.isfinite(s2.x))


def test_sigma_does_not_underflow_to_nan():
    s = make("cma_es", 1, 6, 2)
    st = s.init(None, jnp.zeros(2), s.default_params.replace(sigma_init=1e-29))

    def step(st, k):
        off, st = s.ask(k, st)
        return s.tell(off, jnp.sum(off**2, -1), st), None

    st, _ = jax.jit(lambda st: jax.lax.scan(step, st, jax.random.split(jax.random.key(0), 40)))(st)
    assert np.all(np.isfinite(st.mean)) and float(st.sigma[0]) >= 1e-30


# --------------------------------------------------------------------------- sanity
def _optimise(s, x0, params, f, gens, key=0):
    st = s.init(jax.random.key(key), x0, params)

    def step(st, k):
        off, st = s.ask(k, st)
        return s.tell(off, f(off), st), None

    return jax.jit(lambda st: jax.lax.scan(step, st, jax.random.split(jax.random.key(key + 1), gens)))(st)[0]


def sphere(x):
    return jnp.sum(jnp.square(x - 0.5), axis=-1)


def test_cma_es_converges_on_sphere():
    s = make("cma_es", 1, 8, 5)
    st = _optimise(s, jnp.zeros(5), s.default_params, sphere, 150)
    assert float(st.best_fitness) < 1e-6


def test_sv_cma_es_converges_on_sphere():
    # Default schedule: the repulsion decays linearly to 0 at num_generations (T = 100); after
    # T the particles are plain CMA-ES runs and must all converge to the single optimum.
    s = make("sv_cma_es", 4, 8, 5)
    x0 = jax.random.normal(jax.random.key(0), (4, 5))
    st = _optimise(s, x0, s.default_params.replace(num_generations=100.0), sphere, 200)
    assert float(st.best_fitness) < 1e-6
    assert float(jnp.max(jnp.linalg.norm(s.means(st) - 0.5, axis=-1))) < 1e-2


@pytest.mark.parametrize("source", ["autodiff", "surrogate"])
def test_svgd_samples_gaussian(source):
    mu = jnp.array([1.0, -2.0])
    f = lambda x: 0.5 * jnp.sum((x - mu) ** 2, axis=-1)  # noqa: E731
    s = make("svgd", 32, 1, 2, source=source, **({"objective": f} if source == "autodiff" else {}))
    x0 = jax.random.normal(jax.random.key(0), (32, 2))
    st = _optimise(s, x0, s.default_params, f, 150)
    x = np.asarray(s.means(st))
    np.testing.assert_allclose(x.mean(0), mu, atol=0.15)
    assert np.all((x.std(0) > 0.6) & (x.std(0) < 1.4))


def test_svgd_es_moves_towards_optimum():
    s = make("svgd", 4, 8, 3, source="es")
    x0 = jnp.full((4, 3), 3.0)
    st = _optimise(s, x0, s.default_params.replace(sigma=0.3), sphere, 100)
    assert float(jnp.mean(sphere(s.means(st)))) < 0.25 * float(jnp.mean(sphere(x0)))


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: make("sv_cma_es", 1, 8, 3), r"num_particles=1 is invalid: must be an integer >= 2"),
        (lambda: make("svgd", 1, 8, 3), r"num_particles=1 is invalid"),
        (lambda: make("sv_cma_es", 4, 1, 3), r"pop_size=1 is invalid: must be an integer >= 2"),
        (lambda: make("sv_cma_es", 4, 8, 0), r"dim=0 is invalid: must be an integer >= 1"),
        (lambda: make("sv_cma_es", 4, 8, 3, schedule="cosine"), r"unknown gamma schedule 'cosine'"),
        (lambda: make("sv_cma_es", 4, 8, 3, bandwidth="scott"), r"unknown bandwidth rule 'scott'"),
        (lambda: make("sv_cma_es", 4, 8, 3, eigen_interval=0), r"eigen_interval=0 is invalid"),
        (lambda: make("cma_es", 2, 8, 3), r"num_particles=2 is invalid for cma_es"),
        (lambda: make("mp_cma_es", 0, 8, 3), r"num_particles=0 is invalid"),
        (lambda: make("nes", 4, 8, 3), r"unknown strategy 'nes'; valid names: sv_cma_es, cma_es, mp_cma_es, svgd"),
        (lambda: make("sv_cma_es", 4, 8, 3, source="es"), r"unknown option\(s\) source for strategy 'sv_cma_es'"),
        (lambda: make("svgd", 4, 3, 3, source="es"), r"pop_size=3 is invalid for svgd source 'es': must be even"),
        (lambda: make("svgd", 4, 4, 3, source="autodiff", objective=sum), r"pop_size=4 is invalid .* must be 1"),
        (lambda: make("svgd", 4, 1, 3, source="autodiff"), r"needs objective=f"),
        (lambda: make("svgd", 4, 1, 3, source="grad"), r"unknown svgd gradient source 'grad'"),
        (lambda: make("svgd", 4, 4, 3, optimizer="rmsprop"), r"unknown svgd optimizer 'rmsprop'"),
    ],
)
def test_bad_sizes_and_names_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_params_and_x0_raise_before_compiling():
    s = make("sv_cma_es", 4, 8, 3)
    with pytest.raises(ValueError, match=r"sigma_init=-1.0 is invalid: must be a finite number > 0"):
        s.init(None, jnp.zeros((4, 3)), s.default_params.replace(sigma_init=-1.0))
    with pytest.raises(ValueError, match=r"kernel_std=0.0 is invalid"):
        s.init(None, jnp.zeros((4, 3)), s.default_params.replace(kernel_std=0.0))
    with pytest.raises(ValueError, match=r"alpha=-2.0 is invalid: must be a finite number >= 0"):
        s.init(None, jnp.zeros((4, 3)), s.default_params.replace(alpha=-2.0))
    with pytest.raises(ValueError, match=r"x0 has shape \(3, 3\); expected \(4, 3\)"):
        s.init(None, jnp.zeros((3, 3)))
    sv = make("svgd", 4, 4, 3)
    with pytest.raises(ValueError, match=r"learning_rate=0.0 is invalid"):
        sv.init(None, jnp.zeros((4, 3)), sv.default_params.replace(learning_rate=0.0))
    st = s.init(None, jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"fitness has shape \(4, 7\); expected \(4, 8\)"):
        s.tell(jnp.zeros((4, 8, 3)), jnp.zeros((4, 7)), st)


def test_registry_names():
    assert STRATEGY_NAMES == ("sv_cma_es", "cma_es", "mp_cma_es", "svgd", "gennes", "evosax")
    assert make("mp_cma_es", 3, 4, 2).repulsion is False
    assert make("sv_cma_es", 3, 4, 2).repulsion is True
    assert make("cma_es", 1, 4, 2).num_particles == 1
    assert math.isclose(float(make("mp_cma_es", 3, 4, 2).default_params.alpha), 0.0)
