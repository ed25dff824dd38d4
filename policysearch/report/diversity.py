"""Diversity metrics of a set of particles (policies): the one place they are defined.

Everything here is plain NumPy on small matrices (n = number of particles, a few dozen), in
float64. Inputs are *embeddings*: one row per particle. Three embeddings are used by the report:

* **parameters**: the flat policy parameter vectors (final particle means);
* **actions on probe states** (DvD-style, Parker-Holder et al. 2020): the normalised actions of
  each particle on a shared set of probe observations, see :func:`action_embedding`;
* **trajectories**: the observation traces of each particle from shared initial states,
  standardised per observation dimension, see :func:`trajectory_embedding`.

Both behavioural embeddings are scaled so that the Euclidean distance between two rows is a
**root-mean-square (RMS) difference**: the RMS over probe states (or over episodes and time steps)
of the Euclidean distance between the two particles' normalised actions (or scaled observations)
there. A distance thus has the same meaning whatever the number of probes, episodes or steps.

Kernel and bandwidth rules (``k(x, y) = exp(-||x - y||^2 / (2 h^2))``, as in
:mod:`policysearch.kernels`):

* parameters have no natural unit, so the bandwidth is the **median heuristic**
  ``h = med / sqrt(2 log(n + 1))`` (Liu & Wang 2016; the rule the strategies use), floored at
  ``PARAM_REL_FLOOR`` times the RMS norm of the particles so that particles which differ only by
  numerical noise count as one (:func:`param_bandwidth`). The median heuristic is scale-free: the
  parameter Vendi score answers "how many groups, relative to the set's own spread";
* behaviour has a natural unit (actions are normalised to [-1, 1]; observations are standardised),
  so its bandwidths are **fixed**: ``ACTION_BANDWIDTH`` and ``TRAJECTORY_BANDWIDTH``. Behavioural
  Vendi scores are therefore comparable between seeds, runs and strategies.

Vendi score (Friedman & Dieng 2023): ``exp(-sum_i lambda_i log lambda_i)`` with ``lambda_i`` the
eigenvalues of ``K / n`` (``0 log 0 = 0``): 1 for identical particles, n for mutually orthogonal
ones (far apart compared to h), about k for k well-separated equal-sized groups. It is the
"effective number of distinct particles".

DvD score: ``log det K`` (Parker-Holder et al. 2020), here with the eigenvalues floored at
``DVD_EIG_FLOOR`` so identical particles give a finite (very negative) number; 0 is the maximum
(all particles far apart).

Number of distinct behaviours (:func:`count_behaviours`): complete-linkage agglomerative
clustering of the trajectory embeddings with distance threshold ``BEHAVIOUR_THRESHOLD``, i.e. the
particles are split into the fewest groups found by complete linkage such that **every pair inside
a group differs by at most ``BEHAVIOUR_THRESHOLD`` (RMS, in standardised observation units)**;
particles with different outcomes (reaching the solve threshold on the shared initial states or
not) are never in the same group (the two outcome classes are clustered separately). The number
of distinct behaviours **among the particles that solve** (``behaviours_solving``) counts the
groups of the solving class: how many different ways of solving a seed's particles found.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ACTION_BANDWIDTH",
    "BEHAVIOUR_THRESHOLD",
    "DVD_EIG_FLOOR",
    "PARAM_REL_FLOOR",
    "TRAJECTORY_BANDWIDTH",
    "action_embedding",
    "count_behaviours",
    "cluster_labels",
    "distance_stats",
    "dvd_logdet",
    "forward_fill",
    "kernel_eigenvalues",
    "kernel_from_distances",
    "median_heuristic_bandwidth",
    "pairwise_distances",
    "param_bandwidth",
    "probe_grid",
    "sample_probe_states",
    "set_diversity",
    "trajectory_embedding",
    "vendi_from_eigenvalues",
    "vendi_score",
]

#: parameter-space bandwidth floor, relative to the RMS norm of the particles
PARAM_REL_FLOOR = 1e-2
#: RBF bandwidth on action embeddings (RMS difference of actions normalised to [-1, 1])
ACTION_BANDWIDTH = 0.25
#: complete-linkage threshold on trajectory embeddings (RMS, standardised observation units)
BEHAVIOUR_THRESHOLD = 0.5
#: RBF bandwidth on trajectory embeddings; half the clustering threshold so that groups further
#: apart than the threshold are nearly orthogonal (k <= exp(-2)) and the Vendi score and the
#: behaviour count agree on well-separated groups
TRAJECTORY_BANDWIDTH = BEHAVIOUR_THRESHOLD / 2
#: eigenvalue floor of the DvD log-determinant
DVD_EIG_FLOOR = 1e-12


# --------------------------------------------------------------------------------------------
# distances, kernels, Vendi
# --------------------------------------------------------------------------------------------
def _as_2d(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"expected an [n, d] array of embeddings, got shape {x.shape}")
    return x


def _finite(x) -> np.ndarray:
    return np.nan_to_num(_as_2d(x), nan=0.0, posinf=1e6, neginf=-1e6)


def pairwise_distances(x) -> np.ndarray:
    """Euclidean distances ``D[i, j] = ||x_i - x_j||`` of ``x[n, d]`` from exact differences
    (symmetric, exactly 0 on the diagonal; one row at a time, so memory stays O(n d))."""
    x = _as_2d(x)
    n = x.shape[0]
    d = np.zeros((n, n))
    for i in range(n):
        d[i] = np.sqrt(np.sum(np.square(x - x[i]), axis=1))
    return d


def _upper(d: np.ndarray) -> np.ndarray:
    iu = np.triu_indices(d.shape[0], k=1)
    return d[iu]


def distance_stats(x=None, distances=None) -> dict:
    """Mean / min / median / max over the n(n-1)/2 distinct pairs (None for n < 2)."""
    d = pairwise_distances(x) if distances is None else np.asarray(distances, np.float64)
    pairs = _upper(d)
    if pairs.size == 0:
        return {"mean_pairwise": None, "min_pairwise": None, "median_pairwise": None, "max_pairwise": None}
    return {
        "mean_pairwise": float(np.mean(pairs)),
        "min_pairwise": float(np.min(pairs)),
        "median_pairwise": float(np.median(pairs)),
        "max_pairwise": float(np.max(pairs)),
    }


def median_heuristic_bandwidth(distances) -> float:
    """``h = med / sqrt(2 log(n + 1))``, med = median distance over distinct pairs (0 if n < 2)."""
    d = np.asarray(distances, np.float64)
    n = d.shape[0]
    if n < 2:
        return 0.0
    return float(np.median(_upper(d)) / math.sqrt(2.0 * math.log(n + 1.0)))


def param_bandwidth(x, distances=None, rel_floor: float = PARAM_REL_FLOOR) -> float:
    """Median heuristic, floored at ``rel_floor * sqrt(mean_i ||x_i||^2)`` (and at 1e-12)."""
    x = _as_2d(x)
    d = pairwise_distances(x) if distances is None else distances
    rms_norm = float(np.sqrt(np.mean(np.sum(x * x, axis=1)))) if x.size else 0.0
    return max(median_heuristic_bandwidth(d), rel_floor * rms_norm, 1e-12)


def kernel_from_distances(distances, h: float) -> np.ndarray:
    """RBF kernel matrix ``exp(-D^2 / (2 h^2))``."""
    if not h > 0:
        raise ValueError(f"bandwidth must be > 0, got {h}")
    d = np.asarray(distances, np.float64)
    return np.exp(-0.5 * np.square(d / h))


def kernel_eigenvalues(K) -> np.ndarray:
    """Eigenvalues of ``K / n`` (clipped at 0), ascending."""
    K = np.asarray(K, np.float64)
    n = K.shape[0]
    lam = np.linalg.eigvalsh(0.5 * (K + K.T) / n)
    return np.clip(lam, 0.0, None)


def vendi_from_eigenvalues(lam) -> float:
    """``exp(entropy)`` of the (renormalised) eigenvalue distribution, ``0 log 0 = 0``."""
    lam = np.asarray(lam, np.float64)
    total = lam.sum()
    if total <= 0:
        return 1.0
    p = lam / total
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def vendi_score(x=None, h: float | None = None, distances=None, K=None) -> float:
    """Vendi score of embeddings ``x[n, d]`` with RBF bandwidth ``h`` (or of a kernel matrix K).

    ``h=None`` uses :func:`param_bandwidth` (median heuristic with floor).
    """
    if K is None:
        if distances is None:
            distances = pairwise_distances(x)
        if h is None:
            h = param_bandwidth(x, distances)
        K = kernel_from_distances(distances, h)
    if np.asarray(K).shape[0] == 0:
        return 0.0
    return vendi_from_eigenvalues(kernel_eigenvalues(K))


def dvd_logdet(K, floor: float = DVD_EIG_FLOOR) -> float:
    """``log det K`` with eigenvalues floored at ``floor`` (DvD diversity; 0 = all far apart)."""
    K = np.asarray(K, np.float64)
    lam = np.linalg.eigvalsh(0.5 * (K + K.T))
    return float(np.sum(np.log(np.maximum(lam, floor))))


# --------------------------------------------------------------------------------------------
# clustering
# --------------------------------------------------------------------------------------------
def cluster_labels(distances, threshold: float = BEHAVIOUR_THRESHOLD, groups=None) -> np.ndarray:
    """Complete-linkage clusters with every within-cluster distance <= ``threshold``.

    ``groups`` (optional int/bool array [n]): items of different groups are never merged (each
    group is clustered on its own). Labels are 0..k-1, numbered in order of first appearance.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    d = np.asarray(distances, np.float64)
    n = d.shape[0]
    groups = np.zeros(n, int) if groups is None else np.asarray(groups)
    raw = np.full(n, -1, dtype=np.int64)
    next_label = 0
    for g in np.unique(groups):
        idx = np.nonzero(groups == g)[0]
        if idx.size == 1:
            lab = np.array([1])
        else:
            sub = d[np.ix_(idx, idx)]
            sub = 0.5 * (sub + sub.T)
            np.fill_diagonal(sub, 0.0)
            z = linkage(squareform(sub, checks=False), method="complete")
            lab = fcluster(z, t=threshold, criterion="distance")
        raw[idx] = lab + next_label
        next_label += int(lab.max()) + 1
    # renumber by first appearance (stable colours in figures)
    out = np.empty(n, dtype=np.int64)
    mapping: dict[int, int] = {}
    for i, r in enumerate(raw):
        out[i] = mapping.setdefault(int(r), len(mapping))
    return out


def count_behaviours(distances, threshold: float = BEHAVIOUR_THRESHOLD, groups=None) -> int:
    """Number of distinct behaviours: clusters of :func:`cluster_labels` (0 for no particles)."""
    if np.asarray(distances).shape[0] == 0:
        return 0
    return int(cluster_labels(distances, threshold, groups).max() + 1)


# --------------------------------------------------------------------------------------------
# behaviour embeddings
# --------------------------------------------------------------------------------------------
def probe_grid(low, high, per_dim: int = 9) -> np.ndarray:
    """Regular grid over the box [low, high] (``per_dim`` points per dimension, ends included)."""
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    axes = [np.linspace(lo, hi, per_dim) for lo, hi in zip(low, high)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1).astype(np.float32)


def sample_probe_states(observations, alive, num: int = 64, seed: int = 0) -> np.ndarray:
    """``num`` observations drawn (without replacement, fixed RNG) from those visited while alive.

    ``observations [..., obs]`` and ``alive [...]`` with the same leading shape.
    """
    obs = np.asarray(observations)
    flat = obs.reshape(-1, obs.shape[-1])[np.asarray(alive).reshape(-1).astype(bool)]
    if flat.shape[0] == 0:
        flat = obs.reshape(-1, obs.shape[-1])
    rng = np.random.default_rng(seed)
    take = rng.choice(flat.shape[0], size=min(num, flat.shape[0]), replace=False)
    return flat[np.sort(take)].astype(np.float32)


def action_embedding(actions, discrete: bool, num_actions: int | None = None,
                     low=None, high=None) -> np.ndarray:
    """Rows such that Euclidean distance = RMS action difference over the probe states.

    ``actions``: ``[n, P, action_size]`` (continuous) or ``[n, P]`` int (discrete). Continuous
    actions are mapped to [-1, 1] by the action bounds; discrete actions are one-hot (so two
    different actions differ by sqrt(2)).
    """
    a = np.asarray(actions)
    n, p = a.shape[0], a.shape[1]
    if discrete:
        k = int(num_actions if num_actions is not None else a.max() + 1)
        z = np.eye(k)[a.astype(int)]  # [n, P, k]
    else:
        a = a.reshape(n, p, -1).astype(np.float64)
        low = np.asarray(low, np.float64).reshape(-1)
        high = np.asarray(high, np.float64).reshape(-1)
        z = (a - 0.5 * (low + high)) / (0.5 * np.maximum(high - low, 1e-12))
    return z.reshape(n, -1) / math.sqrt(p)


def forward_fill(observations, alive) -> np.ndarray:
    """Observations ``[..., T, obs]`` with every step after the episode end replaced by the last
    alive observation (an ended episode stays where it ended)."""
    obs = np.asarray(observations)
    alive = np.asarray(alive).astype(bool)
    t = alive.shape[-1]
    length = np.maximum(alive.sum(axis=-1), 1)  # alive is a prefix: steps 0 .. length-1
    idx = np.minimum(np.arange(t), length[..., None] - 1)
    return np.take_along_axis(obs, idx[..., None], axis=-2)


def trajectory_embedding(observations, alive, scale) -> np.ndarray:
    """Rows ``[n, E * T * obs]`` such that Euclidean distance = RMS over (episode, step) of the
    Euclidean distance between the forward-filled observations, each dimension divided by
    ``scale[obs]``.

    ``observations [n, E, T, obs]`` from the same E initial states for every particle.
    """
    filled = forward_fill(observations, alive).astype(np.float64)
    z = filled / np.maximum(np.asarray(scale, np.float64), 1e-12)
    n = z.shape[0]
    m = int(np.prod(z.shape[1:-1]))  # number of (episode, step) pairs
    return z.reshape(n, -1) / math.sqrt(m)


# --------------------------------------------------------------------------------------------
# everything for one set of particles
# --------------------------------------------------------------------------------------------
def set_diversity(params, action_emb=None, traj_emb=None, outcome=None) -> dict:
    """All diversity metrics of one set of particles (one seed); JSON-able dict.

    params [n, d]; action_emb / traj_emb from :func:`action_embedding` /
    :func:`trajectory_embedding`; outcome [n] bool (particle solves on the shared initial states)
    keeps solving and failing particles in different behaviour clusters. Non-finite entries (a
    diverged policy) are replaced by 0 / +-1e6 so that a report never fails on them.
    """
    params = _finite(params)
    action_emb = None if action_emb is None else _finite(action_emb)
    traj_emb = None if traj_emb is None else _finite(traj_emb)
    n = params.shape[0]
    d_par = pairwise_distances(params)
    h_par = param_bandwidth(params, d_par)
    out = {"num_particles": int(n)}
    out.update({f"params_{k}": v for k, v in distance_stats(distances=d_par).items()})
    out["params_bandwidth"] = h_par
    out["vendi_params"] = vendi_score(distances=d_par, h=h_par)
    if action_emb is not None:
        d_act = pairwise_distances(action_emb)
        K = kernel_from_distances(d_act, ACTION_BANDWIDTH)
        out.update({f"actions_{k}": v for k, v in distance_stats(distances=d_act).items()})
        out["actions_bandwidth"] = ACTION_BANDWIDTH
        out["vendi_actions"] = vendi_score(K=K)
        out["dvd_logdet_actions"] = dvd_logdet(K)
    if traj_emb is not None:
        d_tr = pairwise_distances(traj_emb)
        K = kernel_from_distances(d_tr, TRAJECTORY_BANDWIDTH)
        out.update({f"trajectories_{k}": v for k, v in distance_stats(distances=d_tr).items()})
        out["trajectories_bandwidth"] = TRAJECTORY_BANDWIDTH
        out["vendi_trajectories"] = vendi_score(K=K)
        labels = cluster_labels(d_tr, BEHAVIOUR_THRESHOLD, groups=outcome)
        out["behaviours"] = int(labels.max() + 1) if n else 0
        if outcome is not None:  # behaviours among the particles that solve (0 when none does)
            out["behaviours_solving"] = int(np.unique(labels[np.asarray(outcome, bool)]).size)
        out["behaviour_threshold"] = BEHAVIOUR_THRESHOLD
        out["behaviour_labels"] = [int(v) for v in labels]
    return out
