"""Function-space (action) kernel of SV-CMA-ES / SVGD: invariances, identity limit, gradient,
compiled probes, and the main job end to end with resume."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import TINY, run_train
from policysearch import kernels
from policysearch.policy import MLPPolicy, ObsNormState
from policysearch.strategies import SVCMAES, SVGD

POLICY = MLPPolicy(3, 2, False, (8,), action_low=(-1.0, -2.0), action_high=(1.0, 2.0))
DISCRETE = MLPPolicy(3, 4, True, (8,))


def _permute_hidden(policy, flat, perm):
    """The same network with its hidden units reordered (identical function)."""
    p = policy.unflatten(flat)["params"]
    p = {"Dense_0": {"kernel": p["Dense_0"]["kernel"][:, perm], "bias": p["Dense_0"]["bias"][perm]},
         "Dense_1": {"kernel": p["Dense_1"]["kernel"][perm, :], "bias": p["Dense_1"]["bias"]}}
    return policy.flatten({"params": p})


def _probes(policy, n=16, key=1):
    emb = kernels.ActionEmbedding(policy, n)
    return emb, emb.context(jax.random.key(key), jnp.zeros(policy.observation_size), jnp.ones(policy.observation_size))


@pytest.mark.parametrize("policy", [POLICY, DISCRETE], ids=["continuous", "discrete"])
def test_hidden_unit_permutation_is_the_same_function(policy):
    x = policy.init_flat(jax.random.key(0))
    y = _permute_hidden(policy, x, jnp.arange(8)[::-1])
    emb, ctx = _probes(policy)
    e = emb(jnp.stack([x, y]), ctx)
    assert float(jnp.linalg.norm(x - y)) > 1.0  # far apart in parameter space
    np.testing.assert_allclose(e[0], e[1], atol=1e-6)  # function-space distance 0
    h = kernels.median_bandwidth(e + jnp.array([[0.0], [1.0]]))  # any h > 0
    assert float(kernels.rbf_kernel(e[0], e[1], h)) == pytest.approx(1.0, abs=1e-6)
    # in parameter space the pair is as far apart as independent initialisations
    pop = jnp.concatenate([jax.vmap(policy.init_flat)(jax.random.split(jax.random.key(9), 8)), x[None], y[None]])
    d = np.linalg.norm(np.asarray(pop)[:, None] - np.asarray(pop)[None], axis=-1)[np.triu_indices(10, 1)]
    assert float(jnp.linalg.norm(x - y)) > 0.5 * np.median(d)
    assert float(kernels.rbf_kernel(x, y, kernels.median_bandwidth(pop))) < 0.3
    if policy.discrete:  # probabilities: rows sum to 1
        np.testing.assert_allclose(e[0].reshape(-1, 4).sum(-1), 1.0, rtol=1e-6)
    else:  # actions inside the bounds
        a = e[0].reshape(-1, 2)
        assert jnp.all(jnp.abs(a) <= jnp.array([1.0, 2.0]))


def test_identity_embedding_equals_parameter_kernel():
    x = jax.random.normal(jax.random.key(0), (6, 5))
    identity = lambda z: z  # noqa: E731
    rep, h = kernels.embedded_repulsion(x, identity, "median", 1.0, 0.7)
    h0 = kernels.bandwidth(x, "median", 1.0, 0.7)
    np.testing.assert_allclose(rep, kernels.repulsion(x, h0), rtol=1e-6, atol=1e-7)
    g = jax.random.normal(jax.random.key(1), (6, 5))
    phi, _ = kernels.embedded_svgd_direction(x, g, identity, "median", 1.0, 1.0, 0.5)
    np.testing.assert_allclose(phi, kernels.svgd_direction(x, g, kernels.bandwidth(x, "median", 1.0), 0.5),
                               rtol=1e-6, atol=1e-7)

    # the strategies: kernel_space="actions" with embed = identity runs the parameter kernel
    f = lambda z: jnp.sum((z - 1.0) ** 2, -1)  # noqa: E731
    ident = lambda z, ctx: z  # noqa: E731
    for make in (lambda **k: SVCMAES(4, 6, 5, **k), lambda **k: SVGD(4, 6, 5, **k)):
        ref, fun = make(), make(kernel_space="actions", embed=ident)
        s_ref, s_fun = ref.init(None, x[:4]), fun.init(None, x[:4])
        key = jax.random.key(2)
        for _ in range(5):
            key, k = jax.random.split(key)
            off, s_ref = ref.ask(k, s_ref)
            s_ref = ref.tell(off, f(off), s_ref)
            off2, s_fun = fun.ask(k, s_fun)
            s_fun = fun.tell(off2, f(off2), s_fun, embed_context=jnp.zeros(()))
        np.testing.assert_allclose(ref.means(s_ref), fun.means(s_fun), rtol=1e-5, atol=1e-6)


def test_repulsion_gradient_matches_finite_differences():
    """R_i = -d/dx_i sum_j k(e_j, e(x_i)) with e_j and h held fixed."""
    emb, ctx = _probes(POLICY, n=8)
    x = jax.vmap(POLICY.init_flat)(jax.random.split(jax.random.key(3), 3))
    embed = lambda z: emb(z, ctx)  # noqa: E731
    rep, h = kernels.embedded_repulsion(x, embed, "median", 1.0, 1.0)
    e = embed(x)

    def potential(xi, i):
        ei = embed(xi[None])[0]
        return jnp.sum(jnp.exp(-0.5 * jnp.sum((e - ei) ** 2, -1) / h**2))

    rng = np.random.default_rng(0)
    for i in range(3):
        for _ in range(4):
            v = jnp.asarray(rng.normal(size=x.shape[1]), jnp.float32)
            v = v / jnp.linalg.norm(v)
            eps = 1e-2
            fd = (potential(x[i] + eps * v, i) - potential(x[i] - eps * v, i)) / (2 * eps)
            assert float(-fd) == pytest.approx(float(rep[i] @ v), rel=2e-2, abs=1e-4)
    assert float(jnp.abs(rep).max()) > 1e-3  # a real push, not a vacuous match


def test_probes_are_drawn_inside_the_compiled_program():
    import envs
    from policysearch.runner import make_runner

    env = envs.make("mountaincar")
    policy = MLPPolicy.for_env(env, (4,))
    traces = []

    class CountingEmbedding(kernels.ActionEmbedding):
        def __call__(self, x, ctx):
            traces.append(1)
            return super().__call__(x, ctx)

    strategy = SVCMAES(4, 4, policy.num_params, kernel_space="actions",
                       embed=CountingEmbedding(policy, 8))
    runner = make_runner(env, policy, strategy, strategy.default_params, num_episodes=1, chunk_size=3,
                         solve_threshold=90.0, validation_episodes=1)
    carry = runner.init(jnp.arange(2, dtype=jnp.int32))
    carry, m1 = runner.run_chunk(carry, jnp.int32(0), jnp.int32(6))
    n = len(traces)
    carry, m2 = runner.run_chunk(carry, jnp.int32(3), jnp.int32(6))
    assert n >= 1 and len(traces) == n  # 6 generations, traced once: no retrace per generation
    assert runner.run_chunk._cache_size() == 1
    ratio = np.concatenate([np.asarray(m1["repulsion_ratio"]), np.asarray(m2["repulsion_ratio"])], 1)
    assert np.all(np.isfinite(ratio)) and np.all(ratio[:, 0] > 0)  # a push (it fades as tanh saturates)
    # fresh probes each generation: different keys give different probe sets
    emb = kernels.ActionEmbedding(policy, 8)
    a = emb.context(jax.random.key(0), jnp.zeros(2), jnp.ones(2), ObsNormState.create(2)).obs
    b = emb.context(jax.random.key(1), jnp.zeros(2), jnp.ones(2), ObsNormState.create(2)).obs
    assert not np.allclose(a, b)


def _metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_main_job_with_action_kernel_runs_and_resumes_exactly(tmp_path):
    # the gamma(t) horizon fixed at 4 so that the 2-generation run is the full run's first half
    args = TINY + ["strategy.kernel_space=actions", "strategy.num_probes=8", "+strategy.num_generations=4"]
    full, part = str(tmp_path / "full"), str(tmp_path / "part")
    summary = run_train(args + [f"out_dir={full}"])
    assert summary["strategy"] == "sv_cma_es" and len(summary["seeds"]) == 2
    run_train([a for a in args if not a.startswith("generations=")] + ["generations=2", f"out_dir={part}"])
    run_train([f"resume={part}", "generations=4"])
    assert _metrics(part) == _metrics(full)
    assert all(np.isfinite(r["repulsion_ratio"]) for r in _metrics(full))
    assert _metrics(full)[0]["repulsion_ratio"] > 0
    for s in (0, 1):
        a, b = np.load(f"{part}/policies/seed_{s}.npz"), np.load(f"{full}/policies/seed_{s}.npz")
        np.testing.assert_array_equal(a["particles"], b["particles"])


def test_density_strategies_reject_action_kernel_without_embed():
    s = SVCMAES(3, 4, 2, kernel_space="actions")
    st = s.init(None, jnp.zeros((3, 2)))
    off, st = s.ask(jax.random.key(0), st)
    with pytest.raises(ValueError, match="kernel_space='actions' needs an embed"):
        s.tell(off, jnp.zeros((3, 4)), st)
    with pytest.raises(ValueError, match="kernel_space="):
        SVCMAES(3, 4, 2, kernel_space="functions")
    with pytest.raises(ValueError, match="surrogate"):
        SVGD(3, 1, 2, source="surrogate", kernel_space="actions")


def test_bad_kernel_space_is_a_one_line_config_error():
    from policysearch.config import ConfigError, make_strategy

    base = {"name": "sv_cma_es", "num_particles": 4, "pop_size": 4}
    with pytest.raises(ConfigError, match=r"strategy.kernel_space='weights' is invalid; allowed: parameters, actions"):
        make_strategy({**base, "kernel_space": "weights"}, 10)
    with pytest.raises(ConfigError, match=r"num_probes=0 is invalid"):
        make_strategy({**base, "kernel_space": "actions", "num_probes": 0}, 10)
    with pytest.raises(ConfigError, match=r"repulsion_clip"):
        make_strategy({**base, "repulsion_clip": -1.0}, 10)


def test_rl_defaults_differ_from_the_library_only_in_the_main_job():
    from policysearch.config import make_strategy
    from policysearch.density.runner import make_method_from_config
    from policysearch.density.targets import make_target

    cfg = {"name": "sv_cma_es", "num_particles": 4, "pop_size": 4, "repulsion_clip": None, "bandwidth_scale": None}
    _, rl = make_strategy(cfg, 10)
    assert float(rl.repulsion_clip) == 1.0 and float(rl.bandwidth_scale) == 1.0
    _, mine = make_strategy({**cfg, "repulsion_clip": float("inf"), "bandwidth_scale": 0.7}, 10)
    assert np.isinf(float(mine.repulsion_clip)) and float(mine.bandwidth_scale) == pytest.approx(0.7)
    dens = make_method_from_config(cfg, make_target("double_banana"), 10).params
    assert np.isinf(float(dens.repulsion_clip)) and float(dens.bandwidth_scale) == pytest.approx(0.7)


@pytest.mark.parametrize("env,strategy", [("cartpole", "sv_cma_es"), ("acrobot", "svgd"),
                                          ("pendulum", "svgd")])
def test_action_kernel_through_the_cli_config_on_discrete_and_continuous_envs(tmp_path, env, strategy):
    """`strategy.kernel_space=actions` on discrete-action envs (probabilities) and with SVGD's ES
    gradients: finite returns, and the action kernel changes the run compared with parameters."""
    base = TINY + [f"env={env}", f"strategy={strategy}", "generations=2", "strategy.num_probes=4"]
    runs = {}
    for space in ("actions", "parameters"):
        summary = run_train(base + [f"strategy.kernel_space={space}", f"out_dir={tmp_path / space}"])
        assert all(np.isfinite(s["best_return"]) for s in summary["seeds"])
        runs[space] = _metrics(str(tmp_path / space))
    assert all(r["nan_count"] == 0 for r in runs["actions"] if "nan_count" in r)
    # same seeds, same first rollouts; only the kernel differs: the particles must move differently
    a = np.load(tmp_path / "actions" / "policies" / "seed_0.npz")["particles"]
    p = np.load(tmp_path / "parameters" / "policies" / "seed_0.npz")["particles"]
    assert a.shape == p.shape and not np.allclose(a, p)


# ---------------------------------------------------------------------------------------------
# bandwidth floor on embeddings (behaviourally identical particles)
# ---------------------------------------------------------------------------------------------
PENDULUM_LIKE = MLPPolicy(3, 1, False, (16,), action_low=(-2.0,), action_high=(2.0,))
ACROBOT_LIKE = MLPPolicy(6, 3, True, (16,))


def _twins(policy):
    """A policy and a hidden-unit permutation of it: the same behaviour, far apart in parameters."""
    x = policy.init_flat(jax.random.key(0))
    return jnp.stack([x, _permute_hidden(policy, x, jnp.arange(16)[::-1])])


@pytest.mark.parametrize("policy", [PENDULUM_LIKE, ACROBOT_LIKE], ids=["continuous", "discrete"])
def test_coinciding_behaviours_get_a_small_finite_repulsion(policy):
    x = _twins(policy)
    emb, ctx = _probes(policy, n=32)
    embed = lambda z: emb(z, ctx)  # noqa: E731
    floor = kernels.embedding_bandwidth_floor(embed(x), emb.coordinate_scale)
    assert floor == pytest.approx(0.01 * np.sqrt(32 * policy.action_size) * (2.0 if not policy.discrete else 0.5))
    # without the floor: float noise times 1/h^2 (the degeneracy the floor removes)
    raw, h_raw = kernels.embedded_repulsion(x, embed, "median", 1.0, 1.0)
    assert float(h_raw) < 1e-5 and float(jnp.abs(raw).max()) > 1e4
    rep, h = kernels.embedded_repulsion(x, embed, "median", 1.0, 1.0, emb.coordinate_scale)
    assert float(h) == pytest.approx(floor)
    assert np.all(np.isfinite(rep)) and float(jnp.abs(rep).max()) < 1e-3

    # SV-CMA-ES (library class: no repulsion cap) and SVGD read the floor from the embedding
    d = policy.num_params
    sv = SVCMAES(2, 4, d, kernel_space="actions", embed=emb)
    st = sv.init(None, x)
    off, st = sv.ask(jax.random.key(1), st)
    st = sv.tell(off, jnp.zeros((2, 4)), st, embed_context=ctx)
    assert float(st.bandwidth) == pytest.approx(floor)
    assert 0.0 <= float(st.repulsion_ratio) < 1e-3  # of a CMA mean step (unfloored: ~1e6)
    svgd = SVGD(2, 2, d, optimizer="sgd", kernel_space="actions", embed=emb)
    st = svgd.init(None, x, svgd.default_params.replace(learning_rate=1.0))
    off, st = svgd.ask(jax.random.key(1), st)
    st = svgd.tell(off, jnp.zeros((2, 2)), st, embed_context=ctx)  # flat f: the step is the repulsion
    step = np.asarray(svgd.means(st) - x)
    assert float(st.bandwidth) == pytest.approx(floor)
    assert np.all(np.isfinite(step)) and np.abs(step).max() < 1e-3


def test_bandwidth_floor_does_not_bind_on_spread_particles():
    for policy in (PENDULUM_LIKE, ACROBOT_LIKE):
        x = jax.vmap(policy.init_flat)(jax.random.split(jax.random.key(5), 8))
        emb, ctx = _probes(policy, n=32)
        embed = lambda z: emb(z, ctx)  # noqa: E731
        a, h_a = kernels.embedded_repulsion(x, embed, "median", 1.0, 1.0)
        b, h_b = kernels.embedded_repulsion(x, embed, "median", 1.0, 1.0, emb.coordinate_scale)
        assert float(h_a) > 5 * kernels.embedding_bandwidth_floor(embed(x), emb.coordinate_scale)
        np.testing.assert_array_equal(a, b)
        assert float(h_a) == float(h_b)


def test_coinciding_particles_in_parameter_space_get_zero_repulsion():
    """Parameter space has no floor: identical particles differ by exactly 0 (zero repulsion,
    finite state); distinct particles differ really, and the push follows the median heuristic's
    1/distance law (the same configuration shrunk 1000 times pushes 1000 times harder)."""
    x0 = jnp.broadcast_to(jnp.linspace(-1.0, 1.0, 5), (4, 5))
    sv = SVCMAES(4, 6, 5)
    st = sv.init(None, x0)
    off, st = sv.ask(jax.random.key(0), st)
    st = sv.tell(off, jnp.sum(off**2, -1), st)
    assert float(st.repulsion_ratio) == 0.0 and np.all(np.isfinite(np.asarray(st.mean)))
    svgd = SVGD(4, 2, 5, optimizer="sgd")
    st = svgd.init(None, x0, svgd.default_params.replace(learning_rate=1.0))
    off, st = svgd.ask(jax.random.key(0), st)
    st = svgd.tell(off, jnp.zeros((4, 2)), st)
    np.testing.assert_array_equal(svgd.means(st), x0)
    u = jax.random.normal(jax.random.key(1), (4, 5))
    norms = []
    for eps in (1e-3, 1e-6):
        x = eps * u  # (centred at 0: float rounding stays relative)
        norms.append(float(jnp.abs(kernels.repulsion(x, kernels.bandwidth(x, "median", 1.0))).max()))
    assert norms[1] / norms[0] == pytest.approx(1e3, rel=1e-2)
