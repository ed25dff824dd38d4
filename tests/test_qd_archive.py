"""Quality-diversity view of a run (docs/qd.md): env descriptors, the MAP-Elites archive against a
brute-force best-per-cell and against QDax, QD metrics, and the archive in a training run."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from helpers import TINY, run_train
from policysearch.config import ConfigError
from policysearch.policy import MLPPolicy
from policysearch.qd import archive as qa
from policysearch.qd import archive_spec, centroids, load_archive, qd_metrics
from policysearch.rollout import episode, make_population_evaluator


# ------------------------------------------------------------------------------------------------
# descriptors
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", envs.ENV_NAMES)
def test_random_policies_have_descriptors_inside_the_documented_bounds(name):
    env = envs.make(name)
    d = len(env.descriptor_names)
    assert 1 <= d <= 2 and env.descriptor_low.shape == env.descriptor_high.shape == (d,)
    assert env.descriptor_low.dtype == np.float32 and np.all(env.descriptor_low < env.descriptor_high)
    policy = MLPPolicy.for_env(env, hidden_sizes=[8])
    # wide random parameters: saturated, diverse behaviours
    flat = jax.vmap(policy.init_flat)(jax.random.split(jax.random.PRNGKey(0), 48)) * 3.0
    res = jax.jit(make_population_evaluator(env, policy, num_episodes=2))(flat, jax.random.PRNGKey(1))
    desc = np.asarray(res.descriptors)
    assert desc.shape == (48, d) and np.isfinite(desc).all()
    assert np.all(desc >= env.descriptor_low) and np.all(desc <= env.descriptor_high), (desc.min(0), desc.max(0))
    assert np.ptp(desc, axis=0).max() > 0  # descriptors tell some of these policies apart
    assert np.all(np.asarray(res.returns) + env.qd_offset >= 0)  # the QD offset makes fitness >= 0


def _recorded_episodes(env, n, seed):
    """n random policies (3x Flax's scale), one recorded episode each with its descriptor:
    (total, length, observations, alive, descriptor) as NumPy arrays."""
    policy = MLPPolicy.for_env(env, hidden_sizes=[4])
    flat = jax.vmap(policy.init_flat)(jax.random.split(jax.random.PRNGKey(seed), n)) * 3.0
    keys = jax.random.split(jax.random.PRNGKey(seed + 1), n)
    total, length, _, _, (obs, _, alive), desc = jax.vmap(
        lambda f, k: episode(env, policy, f, k, record=True, descriptor=True))(flat, keys)
    return tuple(map(np.asarray, (total, length, obs, alive, desc)))


def test_mountaincar_descriptor_means_leftmost_position_and_goal_step():
    env = envs.make("mountaincar")
    total, length, obs, alive, desc = _recorded_episodes(env, 32, 3)
    reached = np.asarray(total) > 50  # +100 at the goal, > -100 control cost otherwise
    assert reached.any() and (~reached).any()
    np.testing.assert_allclose(desc[reached, 1], length[reached] / env.max_episode_steps)
    assert np.all(desc[~reached, 1] == 1.0)
    # the leftmost position an action is taken at, over the alive steps only
    visited_min = np.where(alive, obs[..., 0], np.inf).min(axis=1)
    np.testing.assert_array_equal(desc[:, 0], visited_min)


def test_acrobot_descriptor_is_the_goal_step_and_mean_abs_velocity_of_the_observed_states():
    env = envs.make("acrobot")
    _, length, obs, alive, desc = _recorded_episodes(env, 8, 5)
    np.testing.assert_allclose(desc[:, 0], length / env.max_episode_steps)
    expected = np.where(alive, np.abs(obs[..., 4]), 0.0).sum(axis=1) / np.maximum(length, 1)
    np.testing.assert_allclose(desc[:, 1], expected, rtol=1e-5)
    assert np.ptp(desc[:, 1]) > 0.01  # policies differ


def test_an_env_without_descriptor_says_so():
    class Bare(envs.Env):
        name = "bare"

    with pytest.raises(NotImplementedError, match="env 'bare' defines no behaviour descriptor"):
        Bare(max_episode_steps=3).descriptor_init(None, None)
    with pytest.raises(ValueError, match="defines no behaviour descriptor"):
        archive_spec(Bare(max_episode_steps=3), 16)


# ------------------------------------------------------------------------------------------------
# archive
# ------------------------------------------------------------------------------------------------
def brute_force(cents, low, high, batches):
    """Best per cell, one candidate at a time (strictly better replaces; first of equals stays)."""
    fit = np.full(len(cents), -np.inf)
    geno = np.zeros((len(cents), batches[0][0].shape[1]))
    clipped_counts = []
    for g, dsc, f in batches:
        clipped_counts.append(int(np.sum(np.isfinite(dsc).all(1) & ((dsc < low) | (dsc > high)).any(1))))
        for i in range(len(f)):
            if not (np.isfinite(f[i]) and np.isfinite(dsc[i]).all()):
                continue
            c = np.clip(dsc[i], low, high)
            k = int(np.argmin(((c - cents) ** 2).sum(1)))
            if f[i] > fit[k]:
                fit[k], geno[k] = f[i], g[i]
    return fit, geno, clipped_counts


def random_batches(rng, n_batches, b, d, dim, low, high, ties=False):
    out = []
    for _ in range(n_batches):
        span = high - low
        dsc = rng.uniform(low - 0.2 * span, high + 0.2 * span, size=(b, d)).astype(np.float32)
        f = rng.normal(size=b).astype(np.float32)
        if ties:
            f = np.round(f, 0)  # many equal fitnesses in a cell
        f[rng.random(b) < 0.1] = np.nan
        dsc[rng.random(b) < 0.05, 0] = np.nan
        out.append((rng.normal(size=(b, dim)).astype(np.float32), dsc, f))
    return out


@pytest.mark.parametrize("d, cells, ties, grid", [(1, 16, False, True), (2, 64, True, True), (2, 64, True, False),
                                                  (3, 20, False, False)])
def test_archive_keeps_the_best_per_cell_like_a_brute_force(d, cells, ties, grid):
    """Nearest centroid by distances (any centroids) or by grid arithmetic (regular grids)."""
    rng = np.random.default_rng(d)
    low, high = np.full(d, -1.0, np.float32), np.linspace(1.0, 2.0, d).astype(np.float32)
    cents = centroids.centroids(cells, low, high) if d <= 2 else centroids.cvt_centroids(cells, low, high, 2000)
    arch = qa.init(cents, low, high, 5, centroids.grid_shape(cells, d) if grid else None)
    batches = random_batches(rng, 6, 40, d, 5, low, high, ties)
    add = jax.jit(qa.add)
    counts = []
    for g, dsc, f in batches:
        arch, n = add(arch, g, dsc, f)
        counts.append(int(n))
    fit, geno, expected_counts = brute_force(cents, low, high, batches)
    np.testing.assert_array_equal(np.asarray(arch.fitnesses), fit.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(arch.genotypes), geno.astype(np.float32))
    assert counts == expected_counts and sum(counts) > 0
    filled = np.isfinite(fit)
    assert filled.sum() > 0
    stored = np.asarray(arch.descriptors)[filled]
    assert np.all(stored >= low) and np.all(stored <= high)  # clipped before storing
    np.testing.assert_array_equal(qa.cell_indices(jnp.asarray(stored), jnp.asarray(cents)), np.nonzero(filled)[0])


def test_grid_centroids_match_qdax_and_cvt_is_deterministic():
    cents = centroids.centroids(12 * 12, [-1.2, 0.0], [-0.4, 1.0])
    assert cents.shape == (144, 2)
    assert np.allclose(cents[:, 0].reshape(12, 12)[0], cents[:12, 0])  # first dimension fastest
    assert centroids.grid_shape(1024, 2) == (32, 32) and centroids.grid_shape(1000, 2) is None
    cvt = centroids.cvt_centroids(32, np.zeros(3), np.full(3, 2.0), samples=2000)
    np.testing.assert_array_equal(cvt, centroids.cvt_centroids(32, np.zeros(3), np.full(3, 2.0), samples=2000))
    assert cvt.shape == (32, 3) and cvt.min() >= 0 and cvt.max() <= 2


def test_archive_and_metrics_equal_qdax():
    pytest.importorskip("qdax")
    from qdax.core.containers.mapelites_repertoire import MapElitesRepertoire, compute_euclidean_centroids
    from qdax.utils.metrics import default_qd_metrics

    low, high = np.array([-1.2, 0.0], np.float32), np.array([-0.4, 1.0], np.float32)
    ours_c = centroids.centroids(16 * 16, low, high)
    theirs_c = np.asarray(compute_euclidean_centroids((16, 16), low, high))
    np.testing.assert_allclose(ours_c, theirs_c, atol=1e-6)
    rng = np.random.default_rng(0)
    arch = qa.init(ours_c, low, high, 3, (16, 16))
    rep = None
    for _ in range(5):
        g = rng.normal(size=(64, 3)).astype(np.float32)
        dsc = rng.uniform(low, high, size=(64, 2)).astype(np.float32)  # inside: QDax does not clip
        f = rng.normal(size=64).astype(np.float32)
        arch, _ = qa.add(arch, g, dsc, f)
        if rep is None:
            rep = MapElitesRepertoire.init(jnp.asarray(g), jnp.asarray(f), jnp.asarray(dsc), jnp.asarray(ours_c))
        else:
            rep = rep.add(jnp.asarray(g), jnp.asarray(dsc), jnp.asarray(f))
    np.testing.assert_array_equal(np.asarray(arch.fitnesses), np.asarray(rep.fitnesses).reshape(-1))
    np.testing.assert_array_equal(np.asarray(arch.genotypes), np.asarray(rep.genotypes))
    filled = np.isfinite(np.asarray(arch.fitnesses))
    np.testing.assert_array_equal(np.asarray(arch.descriptors)[filled], np.asarray(rep.descriptors)[filled])
    for offset in (0.0, 99.9):
        ours, theirs = qd_metrics(arch.fitnesses, offset), default_qd_metrics(rep, offset)
        for k in ("qd_score", "coverage", "max_fitness"):
            np.testing.assert_allclose(float(ours[k]), float(theirs[k]), rtol=1e-6, err_msg=k)


def test_qd_metrics_by_hand():
    f = np.array([-np.inf, 1.0, -2.0, -np.inf], np.float32)
    m = qd_metrics(f, 10.0)
    assert float(m["qd_score"]) == 19.0 and float(m["coverage"]) == 50.0 and float(m["max_fitness"]) == 1.0


# ------------------------------------------------------------------------------------------------
# in a training run
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def qd_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("qd") / "run")
    summary = run_train(TINY + [f"out_dir={out}", "qd.cells=256"])
    return out, summary


def test_a_training_run_logs_qd_metrics_and_exports_the_archive(qd_run):
    out, summary = qd_run
    with open(os.path.join(out, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    for s in (0, 1):
        seed_rows = [r for r in rows if r["seed"] == s]
        qd_scores = [r["qd_score"] for r in seed_rows]
        cov = [r["coverage"] for r in seed_rows]
        assert qd_scores == sorted(qd_scores) and cov == sorted(cov) and cov[-1] > 0  # archives only improve
        assert all(r["max_fitness"] == r["best_so_far"] for r in seed_rows)  # every offspring enters
        assert all(r["descriptor_clipped"] == 0 for r in seed_rows)
        arch = load_archive(out, s)
        assert arch.descriptor_names == ("min_position", "goal_step") and arch.centroids.shape == (256, 2)
        m = arch.metrics(90.0)
        entry = summary["seeds"][s]
        assert m["qd_score"] == pytest.approx(seed_rows[-1]["qd_score"], rel=1e-6)
        assert m["coverage"] == seed_rows[-1]["coverage"] == entry["coverage"] == 100 * arch.cells.size / 256
        assert entry["qd_score"] == m["qd_score"] and entry["solving_cells"] == int((arch.fitnesses >= 90).sum())
        np.testing.assert_allclose(m["qd_score"], np.sum(arch.fitnesses + 99.9), rtol=1e-5)


def test_load_policy_of_an_archive_cell(qd_run):
    import policysearch

    out, _ = qd_run
    arch = load_archive(out, 1)
    k = int(arch.cells[np.argmax(arch.fitnesses)])
    fn = policysearch.load_policy(out, seed=1, which="archive", cell=k)
    np.testing.assert_array_equal(fn.params, arch.genotypes[np.argmax(arch.fitnesses)])
    assert fn(np.array([-0.5, 0.0], np.float32)).shape == (1,)
    with pytest.raises(ValueError, match=rf"needs cell=k: seed 1's archive has {arch.cells.size} filled cells of 256"):
        policysearch.load_policy(out, seed=1, which="archive")
    empty = int(np.setdiff1d(np.arange(256), arch.cells)[0])
    with pytest.raises(ValueError, match=f"cell {empty} is empty"):
        policysearch.load_policy(out, seed=1, which="archive", cell=empty)
    with pytest.raises(ValueError, match="must be an integer in"):
        policysearch.load_policy(out, seed=1, which="archive", cell=256)


@pytest.mark.parametrize("override, message", [
    ("qd.cells=1000", "qd.cells=1000 is invalid for a 2-D grid: must be k^2 (e.g. 1024 = 32x32)"),
    ("qd.cells=0", "qd.cells=0 is invalid: must be an integer >= 1"),
    ("qd.descriptors=[speed]", "qd.descriptors=['speed'] is invalid; mountaincar's descriptors: min_position, goal_step (null = all, or a list of distinct names)"),
    ("early_stop_behaviours=-1", "early_stop_behaviours=-1 is invalid: must be an integer >= 0"),
    ("early_stop_behaviours=2000", "early_stop_behaviours=2000 is invalid: the archive has 1024 cells (qd.cells); allowed: 0 .. 1024"),
    ("early_stop_behaviours=3 qd.enabled=false", "early_stop_behaviours=3 counts solving cells of the QD archive, but this run has none; allowed: 0, or qd.enabled=true on an env with a behaviour descriptor"),
])
def test_bad_qd_config_is_one_clear_error_before_compilation(override, message, monkeypatch, tmp_path):
    import policysearch.runner

    monkeypatch.setattr(policysearch.runner, "make_runner", lambda *a, **k: pytest.fail("compiled"))
    with pytest.raises(ConfigError) as err:
        run_train(TINY + [f"out_dir={tmp_path / 'x'}", *override.split()])
    assert str(err.value) == message and not (tmp_path / "x").exists()


def test_early_stop_waits_for_k_solving_behaviours(tmp_path):
    # a threshold every policy reaches: the usual rule stops at the first chunk end (generation 2)
    base = [o for o in TINY if o != "early_stop=false"] + ["early_stop=true", "env.solve_threshold=-1000",
                                                          "qd.cells=256"]
    one = run_train(base + [f"out_dir={tmp_path / 'k1'}", "early_stop_behaviours=1"])
    assert one["stopped_early"] and one["generations_run"] == 2
    assert all(s["solving_cells"] >= 1 for s in one["seeds"])
    # 4 generations x 16 evaluations fill at most 64 cells: 100 solving cells never come
    many = run_train(base + [f"out_dir={tmp_path / 'k100'}", "early_stop_behaviours=100"])
    assert not many["stopped_early"] and many["generations_run"] == 4
    assert all(1 <= s["solving_cells"] < 100 for s in many["seeds"])


def test_one_descriptor_dimension_and_no_archive(tmp_path):
    env = envs.make("mountaincar")
    spec = archive_spec(env, 8, ["goal_step"])
    assert spec.names == ("goal_step",) and spec.dims == (1,) and spec.centroids.shape == (8, 1)
    out = tmp_path / "off"
    run_train([o for o in TINY if not o.startswith("generations=")] + ["generations=2", "qd.enabled=false",
                                                                        f"out_dir={out}"])
    with open(out / "metrics.jsonl") as f:
        assert "qd_score" not in json.loads(f.readline())
    with pytest.raises(ValueError, match="has no QD archive"):
        load_archive(str(out), 0)
