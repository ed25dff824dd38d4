"""MAP-Elites archive (QDax's MapElitesRepertoire semantics) as a pure-JAX pytree.

Every cell is a centroid in descriptor space; a candidate belongs to the cell of its nearest
centroid (Euclidean). `add` keeps the best fitness per cell: within a batch the best candidate of
a cell competes (ties: the first in the batch), and it replaces the cell's elite only if it is
strictly better, exactly as `qdax.core.containers.mapelites_repertoire.MapElitesRepertoire.add`.
Two additions QDax leaves to the caller: descriptors are clipped to the archive's bounds (and the
clipped candidates counted), and a candidate with a non-finite fitness or descriptor never
enters. Empty cells have fitness -inf.

On a regular grid (``grid`` given, the centroids of `centroids.euclidean_centroids`) the nearest
centroid is the grid cell containing the point, found by arithmetic in O(D) per candidate
instead of distances to all C centroids (which dominated a generation's cost on CPU); the two
agree except possibly for a point exactly on a cell boundary (float rounding).
"""

from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp

__all__ = ["Archive", "add", "cell_indices", "init"]


@flax.struct.dataclass
class Archive:
    centroids: jax.Array  # [C, D]
    genotypes: jax.Array  # [C, d] elite per cell (zeros where empty)
    fitnesses: jax.Array  # [C] elite fitness, -inf where empty
    descriptors: jax.Array  # [C, D] elite descriptor (clipped), zeros where empty
    low: jax.Array  # [D] descriptor bounds used for clipping
    high: jax.Array  # [D]
    grid: tuple | None = flax.struct.field(pytree_node=False, default=None)  # cells per dimension


def init(centroids, low, high, genotype_size: int, grid=None) -> Archive:
    """Empty archive over `centroids[C, D]` for genotypes of `genotype_size` floats.

    `grid`: cells per dimension when the centroids are `euclidean_centroids(grid, low, high)`.
    """
    centroids = jnp.asarray(centroids, jnp.float32)
    c, d = centroids.shape
    if grid is not None:
        grid = tuple(int(n) for n in grid)
        if len(grid) != d or math.prod(grid) != c:
            raise ValueError(f"grid {grid} does not match {c} centroids of dimension {d}")
    return Archive(
        centroids=centroids,
        genotypes=jnp.zeros((c, int(genotype_size)), jnp.float32),
        fitnesses=jnp.full((c,), -jnp.inf, jnp.float32),
        descriptors=jnp.zeros((c, d), jnp.float32),
        low=jnp.asarray(low, jnp.float32).reshape(d),
        high=jnp.asarray(high, jnp.float32).reshape(d),
        grid=grid,
    )


def cell_indices(descriptors, centroids):
    """Index of the nearest centroid of every descriptor row ([B, D] -> int32[B]), as QDax."""
    sq = jnp.sum(jnp.square(descriptors[:, None, :] - centroids[None, :, :]), axis=-1)
    return jnp.argmin(sq, axis=-1).astype(jnp.int32)


def _grid_indices(archive: Archive, clipped):
    """Cell of every (clipped) descriptor on a regular grid; QDax's order: first dimension fastest."""
    n = jnp.asarray(archive.grid, jnp.int32)
    unit = (clipped - archive.low) / (archive.high - archive.low)
    i = jnp.clip(jnp.floor(unit * n).astype(jnp.int32), 0, n - 1)
    strides = jnp.cumprod(jnp.concatenate([jnp.ones(1, jnp.int32), n[:-1]]))
    return jnp.sum(i * strides, axis=-1).astype(jnp.int32)


def add(archive: Archive, genotypes, descriptors, fitnesses):
    """Insert a batch; returns (new archive, int32 number of candidates whose descriptor was clipped).

    genotypes [B, d], descriptors [B, D] (raw), fitnesses [B].
    """
    num_cells = archive.fitnesses.shape[0]
    b = fitnesses.shape[0]
    descriptors = jnp.asarray(descriptors, jnp.float32)
    fitnesses = jnp.asarray(fitnesses, jnp.float32)
    finite_desc = jnp.all(jnp.isfinite(descriptors), axis=-1)
    valid = finite_desc & jnp.isfinite(fitnesses)
    clipped = jnp.clip(descriptors, archive.low, archive.high)
    num_clipped = jnp.sum(finite_desc & jnp.any(clipped != descriptors, axis=-1)).astype(jnp.int32)
    clipped = jnp.where(valid[:, None], clipped, archive.low)  # any cell: an invalid one never enters
    if archive.grid is not None:
        idx = _grid_indices(archive, clipped)
    else:
        idx = cell_indices(clipped, archive.centroids)

    fit = jnp.where(valid, fitnesses, -jnp.inf)
    best = jax.ops.segment_max(fit, idx, num_segments=num_cells)  # best candidate fitness per cell
    is_best = valid & (fit == best[idx])
    order = jnp.where(is_best, jnp.arange(b, dtype=jnp.int32), b)
    winner = jax.ops.segment_min(order, idx, num_segments=num_cells)  # first best, b if none
    enters = is_best & (winner[idx] == jnp.arange(b)) & (fit > archive.fitnesses[idx])
    target = jnp.where(enters, idx, num_cells)  # out of range: dropped
    return archive.replace(
        genotypes=archive.genotypes.at[target].set(jnp.asarray(genotypes, jnp.float32), mode="drop"),
        fitnesses=archive.fitnesses.at[target].set(fit, mode="drop"),
        descriptors=archive.descriptors.at[target].set(clipped, mode="drop"),
    ), num_clipped
