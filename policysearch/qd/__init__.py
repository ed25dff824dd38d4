"""Quality-diversity view of a run (docs/qd.md): a per-seed MAP-Elites archive of every
evaluated policy, with QDax's metrics.

Layering as in QDax: behaviour descriptors live with the envs (envs/base.py), the archive is a
container (:mod:`.archive`), its cells are computed on the host (:mod:`.centroids`), the metrics
are separate functions (:mod:`.metrics`). None of it needs qdax.

    from policysearch.qd import load_archive
    arch = load_archive(run_dir, seed=0)       # the exported archive of one seed
    arch.cells, arch.fitnesses                 # filled cells and their elites' returns
    policysearch.load_policy(run_dir, seed=0, which="archive", cell=int(arch.cells[0]))
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import archive, centroids, metrics  # noqa: F401
from .archive import Archive
from .metrics import qd_metrics, solving_cells

__all__ = ["Archive", "ArchiveSpec", "SavedArchive", "archive_arrays", "archive_spec", "load_archive",
           "qd_metrics", "saved_archive", "solving_cells"]


@dataclasses.dataclass(frozen=True)
class ArchiveSpec:
    """Static description of a run's archive (host side, fixed before compilation)."""

    names: tuple[str, ...]  # descriptor dimensions used (a subset of the env's, in its order)
    dims: tuple[int, ...]  # their indices in the env's descriptor
    low: np.ndarray  # float32[D]
    high: np.ndarray  # float32[D]
    centroids: np.ndarray  # float32[C, D]
    qd_offset: float
    grid: tuple[int, ...] | None = None  # cells per dimension of a regular grid (D <= 2)

    @property
    def cells(self) -> int:
        return int(self.centroids.shape[0])

    def to_dict(self) -> dict:
        return {"descriptor_names": list(self.names), "descriptor_low": [float(v) for v in self.low],
                "descriptor_high": [float(v) for v in self.high], "qd_offset": float(self.qd_offset),
                "cells": self.cells}


def archive_spec(env, cells: int, names=None) -> ArchiveSpec:
    """The archive of `env`'s descriptor (or the named subset of it) with `cells` cells.

    Raises ValueError (one line) for an env without a descriptor, an unknown name or a cell count
    that does not fit (k^D for a D <= 2 grid; >= 1 for CVT).
    """
    env_names = tuple(getattr(env, "descriptor_names", ()) or ())
    if not env_names:
        raise ValueError(f"env {getattr(env, 'name', env)!r} defines no behaviour descriptor")
    names = env_names if names is None else tuple(str(n) for n in names)
    unknown = [n for n in names if n not in env_names]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f"descriptors={list(names)!r} is invalid; {env.name}'s descriptors: "
                         f"{', '.join(env_names)} (null = all, or a list of distinct names)")
    dims = tuple(sorted(env_names.index(n) for n in names))
    names = tuple(env_names[i] for i in dims)
    low = np.asarray(env.descriptor_low, np.float32)[list(dims)]
    high = np.asarray(env.descriptor_high, np.float32)[list(dims)]
    if isinstance(cells, bool) or not isinstance(cells, (int, np.integer)) or cells < 1:
        raise ValueError(f"cells={cells!r} is invalid: must be an integer >= 1")
    d = len(dims)
    if d <= 2 and centroids.grid_shape(int(cells), d) is None:
        k = max(1, round(cells ** (1.0 / d)))
        raise ValueError(f"cells={cells} is invalid for a {d}-D grid: must be k^{d} "
                         f"(e.g. {k ** d}{' = %dx%d' % (k, k) if d == 2 else ''})")
    return ArchiveSpec(names=names, dims=dims, low=low, high=high,
                       centroids=centroids.centroids(int(cells), low, high), qd_offset=float(env.qd_offset),
                       grid=centroids.grid_shape(int(cells), d) if d <= 2 else None)


@dataclasses.dataclass(frozen=True)
class SavedArchive:
    """A seed's exported archive: only the filled cells are stored."""

    seed: int
    centroids: np.ndarray  # [C, D]
    cells: np.ndarray  # int [F] filled cell indices, ascending
    genotypes: np.ndarray  # [F, d] elite parameters
    fitnesses: np.ndarray  # [F] elite training returns
    descriptors: np.ndarray  # [F, D]
    descriptor_names: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    qd_offset: float

    def all_fitnesses(self) -> np.ndarray:
        """Fitness of every cell [C], -inf where empty (the archive's own layout)."""
        out = np.full(self.centroids.shape[0], -np.inf, np.float32)
        out[self.cells] = self.fitnesses
        return out

    def metrics(self, solve_threshold: float | None = None) -> dict:
        """qd_score, coverage, max_fitness (and solving_cells with a threshold): JSON-able floats
        (max_fitness None for an empty archive)."""
        out = {k: float(v) for k, v in qd_metrics(self.all_fitnesses(), self.qd_offset).items()}
        out["max_fitness"] = out["max_fitness"] if np.isfinite(out["max_fitness"]) else None
        if solve_threshold is not None:
            out["solving_cells"] = int(solving_cells(self.fitnesses, solve_threshold))
        return out


ARRAY_KEYS = ("archive_centroids", "archive_cells", "archive_genotypes", "archive_fitnesses",
              "archive_descriptors")


def archive_arrays(arch: Archive) -> dict:
    """NumPy arrays of one archive for policies/seed_<s>.npz (only the filled cells)."""
    fit = np.asarray(arch.fitnesses)
    cells = np.nonzero(fit > -np.inf)[0].astype(np.int32)
    return {"archive_centroids": np.asarray(arch.centroids), "archive_cells": cells,
            "archive_genotypes": np.asarray(arch.genotypes)[cells], "archive_fitnesses": fit[cells],
            "archive_descriptors": np.asarray(arch.descriptors)[cells]}


def saved_archive(arrays: dict, info: dict, seed: int) -> SavedArchive:
    """SavedArchive from `archive_arrays` output and `ArchiveSpec.to_dict()` (policy.json "qd")."""
    return SavedArchive(
        seed=int(seed), centroids=np.asarray(arrays["archive_centroids"]),
        cells=np.asarray(arrays["archive_cells"]).astype(np.int64), genotypes=np.asarray(arrays["archive_genotypes"]),
        fitnesses=np.asarray(arrays["archive_fitnesses"]), descriptors=np.asarray(arrays["archive_descriptors"]),
        descriptor_names=tuple(info["descriptor_names"]), low=np.asarray(info["descriptor_low"], np.float32),
        high=np.asarray(info["descriptor_high"], np.float32), qd_offset=float(info["qd_offset"]),
    )


def load_archive(run_dir, seed: int = 0) -> SavedArchive:
    """The archive exported with seed `seed` of a run directory (policies/seed_<s>.npz)."""
    from ..export import load_params

    _, arrays, meta = load_params(run_dir, seed)
    if not meta.get("qd") or "archive_cells" not in arrays:
        raise ValueError(f"run {run_dir!r} has no QD archive (it ran with qd.enabled=false or an env "
                         "without a behaviour descriptor)")
    return saved_archive(arrays, meta["qd"], seed)
