"""The evosax adapter (policysearch/strategies/evosax_adapter.py): parity with evosax's own loop,
traced params, NaN handling, population-based algorithms, config routing and the train CLI."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from evosax import algorithms as evosax_algorithms
from helpers import TINY, run_train
from test_cli_errors import _assert_one_line, _hydra, _no_compile

from policysearch.config import ConfigError, make_strategy
from policysearch.strategies import STRATEGY_NAMES, make
from policysearch.strategies.evosax_adapter import ALGORITHMS

D, M, G = 5, 16, 20


def sphere(x):
    return jnp.sum(jnp.square(x - 1.0), axis=-1)


def _adapter_run(name, rho, x0, key0, keys, gens):
    s = make("evosax", rho, M, D, algorithm=name)
    st = s.init(key0, x0)
    off0 = None
    for k in keys[:gens]:
        x, st = s.ask(k, st)
        off0 = x if off0 is None else off0
        st = s.tell(x, sphere(x), st)
    return np.asarray(off0), np.asarray(s.means(st))


def _evosax_run(name, rho, x0, key0, keys, gens, split=True, vmapped=False):
    """evosax's own ask/tell loop per population, on the adapter's documented key scheme.

    `vmapped`: the populations' ask/tell vmapped (evosax's functions under jax.vmap), else one
    sequential loop per population.
    """
    algo = getattr(evosax_algorithms, name)(population_size=M, solution=jnp.zeros(D))
    p = algo.default_params
    init_keys = key0[None] if rho == 1 else jax.random.split(key0, rho)
    if vmapped:
        st = jax.vmap(algo.init, in_axes=(0, 0, None))(init_keys, x0, p)
        for g, k in enumerate(keys[:gens]):
            ks = jax.random.split(k, rho)
            x, st = jax.vmap(algo.ask, in_axes=(0, 0, None))(ks, st, p)
            off0 = x if g == 0 else off0
            tell_keys = jax.vmap(lambda k_i: jax.random.fold_in(k_i, 1))(ks)
            st, _ = jax.vmap(algo.tell, in_axes=(0, 0, 0, 0, None))(tell_keys, x, sphere(x), st, p)
        return np.asarray(off0), np.asarray(st.mean)
    offs, means = [], []
    for i in range(rho):
        st = algo.init(init_keys[i], x0[i], p)
        for g, k in enumerate(keys[:gens]):
            k_i = jax.random.split(k, rho)[i] if rho > 1 and split else k
            x, st = algo.ask(k_i, st, p)
            if g == 0:
                offs.append(x)
            st, _ = algo.tell(jax.random.fold_in(k_i, 1), x, sphere(x), st, p)
        means.append(st.mean)
    return np.stack(offs), np.stack(means)


def _inputs(rho):
    x0 = jax.random.normal(jax.random.PRNGKey(7), (rho, D))
    return x0, jax.random.PRNGKey(1), list(jax.random.split(jax.random.PRNGKey(2), G))


@pytest.mark.parametrize("rho", [1, 3])
@pytest.mark.parametrize("name", ["Open_ES", "PGPE", "SNES", "Sep_CMA_ES"])
def test_parity_with_evosax_loop(name, rho):
    x0, key0, keys = _inputs(rho)
    # one generation: the same program pieces, bit for bit
    off, mean1 = _adapter_run(name, rho, x0, key0, keys, 1)
    ref_off, ref_mean1 = _evosax_run(name, rho, x0, key0, keys, 1)
    np.testing.assert_array_equal(off, ref_off)
    np.testing.assert_array_equal(mean1, ref_mean1)
    # 20 generations, bit for bit: one population against evosax's plain loop, several against
    # evosax's ask/tell vmapped over the populations (the adapter's optimization barriers keep XLA
    # from fusing evosax's program with the adapter's ops)
    _, mean = _adapter_run(name, rho, x0, key0, keys, G)
    _, ref_mean = _evosax_run(name, rho, x0, key0, keys, G, vmapped=rho > 1)
    np.testing.assert_array_equal(mean, ref_mean)
    if rho > 1:  # and sequential loops per population agree up to float32 rounding (vmap's kernels)
        _, seq_mean = _evosax_run(name, rho, x0, key0, keys, G)
        np.testing.assert_allclose(mean, seq_mean, rtol=1e-5, atol=1e-6)
    assert not np.allclose(mean, mean1, rtol=1e-3)  # the runs moved


def test_parity_detects_a_different_key_scheme():
    x0, key0, keys = _inputs(3)
    _, mean = _adapter_run("SNES", 3, x0, key0, keys, 5)
    _, ref = _evosax_run("SNES", 3, x0, key0, keys, 5)
    _, unsplit = _evosax_run("SNES", 3, x0, key0, keys, 5, split=False)  # every population on one key
    np.testing.assert_allclose(mean, ref, rtol=1e-5, atol=1e-6)
    assert not np.allclose(mean, unsplit, rtol=1e-3)


def test_traced_params_do_not_retrace():
    s = make("evosax", 2, 8, 3, algorithm="PGPE")
    traces = []

    @jax.jit
    def run(params):
        traces.append(1)
        st = s.init(jax.random.PRNGKey(0), jnp.zeros((2, 3)), params)

        def body(st, k):
            x, st = s.ask(k, st)
            return s.tell(x, sphere(x), st), None

        return s.means(jax.lax.scan(body, st, jax.random.split(jax.random.PRNGKey(1), 3))[0])

    p0 = s.default_params
    a = run(p0)
    b = run(p0.replace(sigma_init=0.3))
    c = run(p0.replace(params=p0.params.replace(std_lr=0.5, std_max_change=0.1)))
    assert len(traces) == 1
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


def test_nan_fitness_counts_as_worst():
    s = make("evosax", 1, 8, 3, algorithm="Open_ES")  # centered ranks: only the order matters
    st = s.init(jax.random.PRNGKey(0), jnp.zeros(3))
    x, st = s.ask(jax.random.PRNGKey(1), st)
    f = sphere(x)
    worst = f.at[0, 2].set(jnp.max(f) + 1.0)
    nan = f.at[0, 2].set(jnp.nan)
    a, b = s.tell(x, worst, st), s.tell(x, nan, st)
    np.testing.assert_array_equal(s.means(a), s.means(b))
    assert np.isfinite(b.best_fitness) and not np.array_equal(s.means(a), s.means(s.tell(x, f, st)))


@pytest.mark.parametrize("name", ["SimpleGA", "DifferentialEvolution", "PSO"])
def test_population_based_algorithms_improve(name):
    s = make("evosax", 2, 16, 3, algorithm=name)
    st = s.init(jax.random.PRNGKey(0), jnp.full((2, 3), 3.0))
    first = None
    for k in jax.random.split(jax.random.PRNGKey(1), 15):
        x, st = s.ask(k, st)
        st = s.tell(x, sphere(x), st)
        first = float(st.best_fitness) if first is None else first
    assert s.means(st).shape == (2, 3) and np.all(np.isfinite(s.means(st)))
    assert float(st.best_fitness) < 0.5 * first


def test_registry_and_errors():
    assert "evosax" in STRATEGY_NAMES and "Open_ES" in ALGORITHMS and "SV_CMA_ES" not in ALGORITHMS
    with pytest.raises(ValueError, match="valid algorithms: .*Open_ES"):
        make("evosax", 1, 8, 3, algorithm="Nope")
    with pytest.raises(ValueError, match="'SV_CMA_ES' \\(not supported here"):
        make("evosax", 1, 8, 3, algorithm="SV_CMA_ES")
    with pytest.raises(ValueError, match="traced"):
        make("evosax", 1, 8, 3, algorithm="PGPE", sigma_init=0.5)
    with pytest.raises(ValueError, match="pop_size=7"):
        make("evosax", 1, 7, 3, algorithm="Open_ES")


def test_config_routing():
    s, p = make_strategy({"name": "evosax", "algorithm": "PGPE", "num_particles": 2, "pop_size": 8,
                          "sigma_init": 0.3, "params": {"std_lr": 0.2, "std_max_change": None}}, 3)
    assert float(p.sigma_init) == pytest.approx(0.3) and float(p.params.std_lr) == pytest.approx(0.2)
    s, p = make_strategy({"name": "evosax", "algorithm": "Open_ES", "num_particles": 1, "pop_size": 8,
                          "sigma_init": 0.3, "params": {}}, 3)
    assert s.sigma_init == 0.3  # static: Open_ES's std comes from its std_schedule argument
    with pytest.raises(ConfigError, match=r"strategy.params.bogus is not a parameter here; valid: std_init"):
        make_strategy({"name": "evosax", "algorithm": "PGPE", "num_particles": 1, "pop_size": 8,
                       "params": {"bogus": 1.0}}, 3)
    with pytest.raises(ConfigError, match="set the initial std with sigma_init"):
        make_strategy({"name": "evosax", "algorithm": "PGPE", "num_particles": 1, "pop_size": 8,
                       "params": {"std_init": 0.5}}, 3)


def test_unknown_algorithm_is_one_error_line(tmp_path, monkeypatch, capsys):
    import policysearch.runner
    from policysearch.train import main

    monkeypatch.setattr(policysearch.runner, "make_runner", _no_compile)
    argv = TINY + [f"out_dir={tmp_path}/r", "strategy=evosax", "strategy.algorithm=Nope"]
    _assert_one_line(*_hydra(main, argv, monkeypatch, capsys), "unknown evosax algorithm 'Nope'; valid algorithms: ARS")


def test_train_cli_open_es(tmp_path):
    summary = run_train(TINY + ["strategy=open_es", "generations=2", "chunk=1", f"out_dir={tmp_path}/r"])
    assert summary["strategy"] == "evosax" and len(summary["seeds"]) == 2
    assert all(np.isfinite(s["best_return"]) for s in summary["seeds"])
