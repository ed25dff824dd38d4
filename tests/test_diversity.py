"""Known-answer tests of policysearch.report.diversity (pure NumPy, fast)."""

import itertools
import math

import numpy as np
import pytest

from policysearch.report import diversity as div


def groups(k, size, dim=5, sep=100.0, spread=1e-5, seed=0):
    """k groups of `size` points: centres `sep` apart along different axes, tiny spread."""
    rng = np.random.default_rng(seed)
    centres = sep * np.eye(max(k, dim))[:k, :dim] if k <= dim else sep * rng.standard_normal((k, dim))
    return np.concatenate([c + spread * rng.standard_normal((size, dim)) for c in centres])


# ---------------------------------------------------------------------------- distances
def test_pairwise_distances_match_brute_force():
    x = np.random.default_rng(1).standard_normal((7, 4)) * 3
    d = div.pairwise_distances(x)
    for i, j in itertools.product(range(7), repeat=2):
        assert d[i, j] == pytest.approx(math.dist(x[i], x[j]), rel=1e-12, abs=1e-12)
    assert np.all(np.diag(d) == 0) and np.array_equal(d, d.T)


def test_pairwise_distances_exact_for_nearby_points():
    x = np.array([[1e6, 1e6], [1e6 + 1e-3, 1e6]])
    assert div.pairwise_distances(x)[0, 1] == pytest.approx(1e-3, rel=1e-6)


def test_distance_stats_known_values():
    st = div.distance_stats(np.array([[0.0], [1.0], [3.0]]))  # pairs: 1, 3, 2
    assert st == {"mean_pairwise": 2.0, "min_pairwise": 1.0, "median_pairwise": 2.0, "max_pairwise": 3.0}
    assert div.distance_stats(np.zeros((1, 3)))["mean_pairwise"] is None


def test_median_heuristic_matches_strategy_kernels():
    import jax.numpy as jnp

    from policysearch.kernels import median_bandwidth

    x = np.random.default_rng(2).standard_normal((9, 3))
    h = div.median_heuristic_bandwidth(div.pairwise_distances(x))
    assert h == pytest.approx(float(median_bandwidth(jnp.asarray(x))), rel=1e-5)
    med = np.median([math.dist(a, b) for a, b in itertools.combinations(x, 2)])
    assert h == pytest.approx(med / math.sqrt(2 * math.log(10)), rel=1e-12)


# ---------------------------------------------------------------------------- Vendi
@pytest.mark.parametrize("h", [None, 0.1, 10.0])
def test_vendi_identical_particles_is_one(h):
    x = np.tile(np.arange(4.0), (6, 1))
    assert div.vendi_score(x, h=h) == pytest.approx(1.0, abs=1e-9)


def test_vendi_far_apart_particles_is_n():
    assert div.vendi_score(100.0 * np.eye(6), h=1.0) == pytest.approx(6.0, abs=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_vendi_k_separated_groups_is_k(k):
    x = groups(k, size=4)
    assert div.vendi_score(x, h=1.0) == pytest.approx(k, abs=1e-3)  # fixed bandwidth
    # median heuristic (parameter rule): between-group kernel value 1/(n+1) leaves a small gap
    assert div.vendi_score(x) == pytest.approx(k, abs=0.1)


def test_vendi_unequal_groups_is_exp_entropy_of_sizes():
    x = np.concatenate([groups(1, 6, sep=0.0), groups(1, 2, sep=50.0)])
    p = np.array([6, 2]) / 8
    assert div.vendi_score(x, h=1.0) == pytest.approx(math.exp(-(p * np.log(p)).sum()), abs=1e-6)


def test_vendi_permutation_and_scale_invariance():
    x = np.random.default_rng(3).standard_normal((8, 3))
    v = div.vendi_score(x)
    assert div.vendi_score(x[::-1]) == pytest.approx(v, rel=1e-9)
    assert div.vendi_score(7.5 * x) == pytest.approx(v, rel=1e-9)  # median heuristic is scale-free
    assert 1.0 < v <= 8.0


def test_param_bandwidth_floor_merges_numerical_noise():
    x = np.ones((6, 10)) + 1e-9 * np.random.default_rng(4).standard_normal((6, 10))
    assert div.param_bandwidth(x) == pytest.approx(div.PARAM_REL_FLOOR * math.sqrt(10), rel=1e-6)
    assert div.vendi_score(x) == pytest.approx(1.0, abs=1e-6)


def test_vendi_from_eigenvalues_known():
    assert div.vendi_from_eigenvalues([0.25] * 4) == pytest.approx(4.0)
    assert div.vendi_from_eigenvalues([1.0, 0.0, 0.0]) == pytest.approx(1.0)


def test_dvd_logdet_known_answers():
    far = div.kernel_from_distances(div.pairwise_distances(100 * np.eye(4)), 1.0)
    assert div.dvd_logdet(far) == pytest.approx(0.0, abs=1e-9)
    same = np.ones((4, 4))  # eigenvalues 4, 0, 0, 0
    assert div.dvd_logdet(same) == pytest.approx(math.log(4) + 3 * math.log(div.DVD_EIG_FLOOR), rel=1e-6)


# ---------------------------------------------------------------------------- clustering
@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_count_behaviours_on_separated_groups(k):
    x = groups(k, size=3, dim=6, sep=5.0, spread=0.01)
    d = div.pairwise_distances(x)
    assert div.count_behaviours(d, threshold=0.5) == k
    labels = div.cluster_labels(d, threshold=0.5)
    assert list(labels) == [i // 3 for i in range(3 * k)]  # numbered by first appearance


def test_clusters_complete_linkage_diameter_rule():
    # a chain 0, 0.3, 0.6, 0.9: single linkage would give 1 cluster; complete linkage keeps
    # every within-cluster distance <= 0.5
    d = div.pairwise_distances(np.array([[0.0], [0.3], [0.6], [0.9]]))
    labels = div.cluster_labels(d, threshold=0.5)
    assert len(set(labels)) == 2
    for c in set(labels):
        idx = np.nonzero(labels == c)[0]
        assert d[np.ix_(idx, idx)].max() <= 0.5


def test_clusters_never_mix_outcome_groups():
    d = div.pairwise_distances(np.zeros((4, 2)))  # all identical
    assert div.count_behaviours(d, groups=[True, True, False, False]) == 2
    assert div.count_behaviours(d) == 1
    assert div.count_behaviours(np.zeros((0, 0))) == 0


# ---------------------------------------------------------------------------- embeddings
def test_action_embedding_distance_is_rms_difference():
    a = np.stack([np.full((10, 1), 1.0), np.full((10, 1), -1.0), np.zeros((10, 1))])
    e = div.action_embedding(a, discrete=False, low=[-1.0], high=[1.0])
    d = div.pairwise_distances(e)
    assert d[0, 1] == pytest.approx(2.0) and d[0, 2] == pytest.approx(1.0)
    # bounds [-2, 2] halve the normalised difference
    e2 = div.action_embedding(a, discrete=False, low=[-2.0], high=[2.0])
    assert div.pairwise_distances(e2)[0, 1] == pytest.approx(1.0)
    # discrete: differing on half of the probes -> sqrt(0.5 * 2) = 1
    disc = np.array([[0, 0, 1, 1], [0, 0, 0, 0]])
    assert div.pairwise_distances(div.action_embedding(disc, True, 2))[0, 1] == pytest.approx(1.0)


def test_forward_fill_and_trajectory_embedding():
    obs = np.arange(10, dtype=float).reshape(1, 1, 5, 2)  # [n=1, E=1, T=5, obs=2]
    alive = np.array([[[True, True, False, False, False]]])
    filled = div.forward_fill(obs, alive)
    assert np.array_equal(filled[0, 0, 2:], np.repeat(obs[0, 0, 1:2], 3, axis=0))
    # constant traces differing by (3, 4) in scaled units -> distance 5 at every step
    a = np.zeros((2, 2, 6, 2))
    a[1, ..., 0], a[1, ..., 1] = 0.3, 40.0
    e = div.trajectory_embedding(a, np.ones((2, 2, 6), bool), scale=[0.1, 10.0])
    assert div.pairwise_distances(e)[0, 1] == pytest.approx(5.0)


def test_probe_grid_and_samples():
    g = div.probe_grid([-1.2, -0.07], [0.6, 0.07], 9)
    assert g.shape == (81, 2) and g.min(0) == pytest.approx([-1.2, -0.07]) and g.max(0) == pytest.approx([0.6, 0.07])
    obs = np.random.default_rng(0).standard_normal((3, 2, 20, 4))
    alive = np.zeros((3, 2, 20), bool)
    alive[..., :5] = True
    p = div.sample_probe_states(obs, alive, num=16, seed=0)
    visited = obs[alive]
    assert p.shape == (16, 4)
    assert all(any(np.allclose(row, v) for v in visited) for row in p)
    assert np.array_equal(p, div.sample_probe_states(obs, alive, num=16, seed=0))


def test_set_diversity_identical_and_grouped():
    rng = np.random.default_rng(5)
    params = np.tile(rng.standard_normal(12), (5, 1))
    act = np.zeros((5, 30))
    traj = np.zeros((5, 40))
    out = div.set_diversity(params, act, traj, outcome=np.zeros(5, bool))
    assert out["vendi_params"] == pytest.approx(1.0)
    assert out["vendi_actions"] == pytest.approx(1.0)
    assert out["vendi_trajectories"] == pytest.approx(1.0)
    assert out["behaviours"] == 1 and out["params_min_pairwise"] == 0.0

    traj = groups(3, size=2, dim=40, sep=10.0, spread=1e-5)
    out = div.set_diversity(rng.standard_normal((6, 12)), None, traj)
    assert out["behaviours"] == 3
    assert out["vendi_trajectories"] == pytest.approx(3.0, abs=1e-3)
    assert out["behaviour_labels"] == [0, 0, 1, 1, 2, 2]


def test_behaviours_among_the_particles_that_solve():
    traj = groups(3, size=2, dim=40, sep=10.0)  # behaviours 0, 1, 2; particles 0-3 solve
    params = np.random.default_rng(7).standard_normal((6, 12))
    out = div.set_diversity(params, None, traj, outcome=np.array([1, 1, 1, 1, 0, 0], bool))
    assert out["behaviours"] == 3 and out["behaviours_solving"] == 2
    out = div.set_diversity(params, None, traj, outcome=np.array([1, 0, 1, 0, 1, 0], bool))
    assert out["behaviours"] == 6 and out["behaviours_solving"] == 3  # outcomes split every group
    assert div.set_diversity(params, None, traj, outcome=np.zeros(6, bool))["behaviours_solving"] == 0
    assert "behaviours_solving" not in div.set_diversity(params, None, traj)  # no outcomes, no count


def test_single_particle():
    out = div.set_diversity(np.ones((1, 4)), np.zeros((1, 3)), np.zeros((1, 3)))
    assert out["vendi_params"] == 1.0 and out["behaviours"] == 1
    assert out["params_mean_pairwise"] is None


def test_set_diversity_survives_non_finite_embeddings():
    params = np.random.default_rng(6).standard_normal((4, 5))
    params[1, 2] = np.nan
    traj = np.zeros((4, 8))
    traj[3] = np.inf
    out = div.set_diversity(params, np.zeros((4, 3)), traj)
    assert all(np.isfinite(out[k]) for k in ("vendi_params", "vendi_actions", "vendi_trajectories"))
    assert out["behaviours"] == 2
