"""Exported policies: write `policies/` of a run directory and load them back as callables.

A run directory's policies are self-describing: `policies/policy.json` names the env and the
policy architecture; `policies/seed_<s>.npz` holds the best parameters, the final particle
means and the observation-normalisation statistics, and (runs with a QD archive, docs/qd.md) the
seed's archive: `archive_centroids`, and for the filled cells only `archive_cells`,
`archive_genotypes`, `archive_fitnesses`, `archive_descriptors`; policy.json's "qd" entry names
the descriptor dimensions, bounds and QD offset. `load_policy` needs nothing else.
"""

from __future__ import annotations

import json
import os
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .faults import crash_point
from .policy import MLPPolicy, ObsNormState

WHICH = ("best", "particles", "archive")
ARCHIVE_KEYS = ("archive_centroids", "archive_cells", "archive_genotypes", "archive_fitnesses",
                "archive_descriptors")


def save_policies(run_dir, env_name: str, policy: MLPPolicy, per_seed: list[dict],
                  env_kwargs: dict | None = None, qd: dict | None = None) -> None:
    """per_seed: dicts with seed, best [d], particles [rho, d], obs_mean, obs_var, obs_count,
    best_return (validated), and the `ARCHIVE_KEYS` arrays when `qd` (the archive's description,
    `qd.ArchiveSpec.to_dict()`) is given."""
    out = os.path.join(run_dir, "policies")
    os.makedirs(out, exist_ok=True)
    listing = []
    for entry in per_seed:
        s = int(entry["seed"])
        keys = ("best", "particles", "obs_mean", "obs_var", "obs_count") + (ARCHIVE_KEYS if qd else ())
        arrays = {k: np.asarray(entry[k]) for k in keys}
        tmp = os.path.join(out, f".seed_{s}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, os.path.join(out, f"seed_{s}.npz"))
        crash_point("export")  # a kill between two seeds' files (resume rewrites them all)
        listing.append({"seed": s, "file": f"seed_{s}.npz", "best_return": float(entry["best_return"])})
    meta = {"env": env_name, "env_kwargs": dict(env_kwargs or {}), "policy": policy.to_dict(),
            "seeds": listing}
    if qd:
        meta["qd"] = dict(qd)
    _write_json(os.path.join(out, "policy.json"), meta)


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def read_policy_meta(run_dir) -> dict:
    path = os.path.join(run_dir, "policies", "policy.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no exported policies in {run_dir!r}: {path} does not exist")
    with open(path) as f:
        return json.load(f)


def load_params(run_dir, seed: int = 0):
    """(MLPPolicy, arrays dict, meta) of one seed of a run directory."""
    meta = read_policy_meta(run_dir)
    seeds = [e["seed"] for e in meta["seeds"]]
    if int(seed) not in seeds:
        raise ValueError(f"seed {seed} not in run {run_dir!r}; available seeds: {seeds}")
    with np.load(os.path.join(run_dir, "policies", f"seed_{int(seed)}.npz")) as data:
        arrays = {k: data[k] for k in data.files}
    return MLPPolicy.from_dict(meta["policy"]), arrays, meta


def make_policy_fn(policy: MLPPolicy, params, arrays) -> Callable:
    """numpy obs ([obs] or [B, obs]) -> numpy action; `params` is [d] or [P, d] (P particles)."""
    stats = ObsNormState(
        mean=jnp.asarray(arrays["obs_mean"]),
        var=jnp.asarray(arrays["obs_var"]),
        count=jnp.asarray(arrays["obs_count"]),
    )
    act = lambda p, o: policy.act(p, o, stats)
    params = jnp.asarray(params)
    if params.ndim == 1:
        single = jax.jit(act)
        batch = jax.jit(jax.vmap(act, in_axes=(None, 0)))
    else:  # all particles: obs [obs] -> actions [P, ...]; obs [P, obs] -> one obs per particle
        single = jax.jit(jax.vmap(act, in_axes=(0, None)))
        batch = jax.jit(jax.vmap(act, in_axes=(0, 0)))

    def policy_fn(obs):
        obs = jnp.asarray(obs, jnp.float32)
        out = single(params, obs) if obs.ndim == 1 else batch(params, obs)
        return np.asarray(out)

    policy_fn.policy = policy
    policy_fn.params = np.asarray(params)
    return policy_fn


def _archive_params(run_dir, seed, arrays, cell):
    """The elite parameters of archive cell `cell` (one clear error when there is none)."""
    if "archive_cells" not in arrays:
        raise ValueError(f"run {run_dir!r} has no QD archive (it ran with qd.enabled=false or an env "
                         "without a behaviour descriptor)")
    cells = np.asarray(arrays["archive_cells"])
    total = int(np.asarray(arrays["archive_centroids"]).shape[0])
    hint = (f"seed {seed}'s archive has {cells.size} filled cells of {total} "
            "(policysearch.qd.load_archive(run_dir, seed).cells lists them)")
    if cell is None:
        raise ValueError(f"which='archive' needs cell=k: {hint}")
    if isinstance(cell, bool) or not isinstance(cell, (int, np.integer)) or not 0 <= cell < total:
        raise ValueError(f"cell={cell!r} is invalid: must be an integer in [0, {total}); {hint}")
    hit = np.nonzero(cells == int(cell))[0]
    if hit.size == 0:
        raise ValueError(f"cell {cell} is empty: {hint}")
    return np.asarray(arrays["archive_genotypes"])[hit[0]]


def load_policy(run_dir, seed: int = 0, which: str = "best", cell: int | None = None) -> Callable:
    """Policy of `seed` from a run directory: callable(obs ndarray) -> action ndarray.

    which="best": the seed's best policy. which="particles": all final particle means at once
    (obs [obs] -> actions [P, ...]). which="archive": the elite of QD archive cell `cell`
    (`policysearch.qd.load_archive(run_dir, seed).cells` lists the filled cells).
    """
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    if cell is not None and which != "archive":
        raise ValueError(f"cell={cell!r} only goes with which='archive', not which={which!r}")
    policy, arrays, meta = load_params(run_dir, seed)
    if which == "archive":
        params = _archive_params(run_dir, seed, arrays, cell)
    else:
        params = arrays["best" if which == "best" else "particles"]
    fn = make_policy_fn(policy, params, arrays)
    fn.env = meta["env"]
    return fn
