"""Fail early when a run's covariance matrices would not fit in memory.

A CMA-ES-based strategy keeps, per seed and particle, the covariance C and its eigenvectors B
(d x d each) and needs about as much again as workspace during the update and the
eigendecomposition: about `MATRICES_PER_PARTICLE` d x d float32 matrices at the peak. SVGD
keeps only vectors. With the default 16 particles that is 16 * 5 * 4 B * d^2 per seed:
about 1,770 parameters per GB for one seed (d^2 <= 1e9 / 320).
"""

from __future__ import annotations

import os

MATRICES_PER_PARTICLE = 5
BYTES_PER_FLOAT = 4


def covariance_bytes(num_seeds: int, num_particles: int, dim: int, full_covariance: bool = True) -> int:
    if not full_covariance:
        return 0
    return num_seeds * num_particles * MATRICES_PER_PARTICLE * BYTES_PER_FLOAT * dim * dim


def largest_dim_per_gb(num_particles: int = 16, num_seeds: int = 1) -> int:
    return int((1e9 / (num_seeds * num_particles * MATRICES_PER_PARTICLE * BYTES_PER_FLOAT)) ** 0.5)


def available_bytes() -> int:
    """Memory of the first device (GPU limit) or of the host (CPU), without compiling anything."""
    import jax

    dev = jax.devices()[0]
    stats = None
    try:
        stats = dev.memory_stats()
    except Exception:  # noqa: BLE001 - CPU backends may not implement it
        pass
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"]) * len(jax.devices())
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def check_fits(num_seeds: int, num_particles: int, dim: int, full_covariance: bool = True,
               limit: int | None = None) -> str | None:
    """None if it fits, else a one-line message naming the figure and the remedy."""
    need = covariance_bytes(num_seeds, num_particles, dim, full_covariance)
    limit = available_bytes() if limit is None else limit
    if need <= 0.8 * limit:
        return None
    return (f"this run needs about {need / 1e9:.1f} GB for covariance matrices ({num_seeds} seeds x "
            f"{num_particles} particles x {MATRICES_PER_PARTICLE} x {dim}^2 float32) but "
            f"{limit / 1e9:.1f} GB are available; use fewer seeds or particles, a smaller policy "
            f"(policy.hidden_sizes), more devices, or strategy=svgd (no covariance); one seed of 16 "
            f"particles fits about {largest_dim_per_gb():,} parameters per GB")
