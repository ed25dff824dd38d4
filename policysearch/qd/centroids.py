"""Archive cells, computed on the host before compilation (deterministic).

* D <= 2: a regular grid, `qdax.core.containers.mapelites_repertoire.compute_euclidean_centroids`
  (cell centres, same order: QDax's ``meshgrid`` "xy" layout, first dimension fastest);
  `cells` must be k^D and the grid is k per dimension.
* D > 2: centroidal Voronoi tessellation like `compute_cvt_centroids`: k-means (k-means++,
  one init, scikit-learn) of uniform samples of the unit box, rescaled to the bounds; the
  samples and k-means use a fixed NumPy seed, so the same arguments give the same centroids.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CVT_SAMPLES", "centroids", "cvt_centroids", "euclidean_centroids", "grid_shape"]

#: uniform samples k-means clusters into CVT cells (QDax's examples use 50000 for 1024 cells)
CVT_SAMPLES = 50_000


def grid_shape(cells: int, num_descriptors: int) -> tuple[int, ...] | None:
    """(k,) * D when cells == k**D, else None."""
    k = int(round(cells ** (1.0 / num_descriptors)))
    for cand in (k - 1, k, k + 1):
        if cand >= 1 and cand**num_descriptors == cells:
            return (cand,) * num_descriptors
    return None


def euclidean_centroids(shape, low, high) -> np.ndarray:
    """Cell centres of a regular grid over [low, high], float32[prod(shape), D] (QDax's order)."""
    axes = [np.linspace(0.5 / n, 1.0 - 0.5 / n, n, dtype=np.float32) for n in shape]
    meshes = np.meshgrid(*axes, sparse=False)  # "xy" indexing, as QDax
    unit = np.stack([m.ravel() for m in meshes], axis=-1)
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    return (unit * (high - low) + low).astype(np.float32)


def cvt_centroids(cells: int, low, high, samples: int = CVT_SAMPLES, seed: int = 0) -> np.ndarray:
    """CVT centroids float32[cells, D] over [low, high] (k-means of uniform samples)."""
    from sklearn.cluster import KMeans

    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    x = np.random.default_rng(seed).uniform(size=(max(int(samples), cells), low.size))
    km = KMeans(init="k-means++", n_clusters=int(cells), n_init=1, random_state=seed).fit(x)
    return (km.cluster_centers_ * (high - low) + low).astype(np.float32)


def centroids(cells: int, low, high) -> np.ndarray:
    """The archive's centroids: a k^D grid for D <= 2, CVT for D > 2."""
    low = np.asarray(low, np.float32).reshape(-1)
    d = low.size
    if d <= 2:
        shape = grid_shape(cells, d)
        if shape is None:
            raise ValueError(f"{cells} cells is not k^{d} for a {d}-D grid")
        return euclidean_centroids(shape, low, high)
    return cvt_centroids(cells, low, high)
