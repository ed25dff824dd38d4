"""Exported policies: write `policies/` of a run directory and load them back as callables.

A run directory's policies are self-describing: `policies/policy.json` names the env and the
policy architecture; `policies/seed_<s>.npz` holds the best parameters, the final particle
means and the observation-normalisation statistics. `load_policy` needs nothing else.
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

WHICH = ("best", "particles")


def save_policies(run_dir, env_name: str, policy: MLPPolicy, per_seed: list[dict],
                  env_kwargs: dict | None = None) -> None:
    """per_seed: dicts with seed, best [d], particles [rho, d], obs_mean, obs_var, obs_count,
    best_return (validated), plus anything JSON-able to list in policy.json."""
    out = os.path.join(run_dir, "policies")
    os.makedirs(out, exist_ok=True)
    listing = []
    for entry in per_seed:
        s = int(entry["seed"])
        arrays = {k: np.asarray(entry[k]) for k in ("best", "particles", "obs_mean", "obs_var", "obs_count")}
        tmp = os.path.join(out, f".seed_{s}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, os.path.join(out, f"seed_{s}.npz"))
        crash_point("export")  # a kill between two seeds' files (resume rewrites them all)
        listing.append({"seed": s, "file": f"seed_{s}.npz", "best_return": float(entry["best_return"])})
    meta = {"env": env_name, "env_kwargs": dict(env_kwargs or {}), "policy": policy.to_dict(),
            "seeds": listing}
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


def load_policy(run_dir, seed: int = 0, which: str = "best") -> Callable:
    """Policy of `seed` from a run directory: callable(obs ndarray) -> action ndarray.

    which="best": the seed's best policy. which="particles": all final particle means at once
    (obs [obs] -> actions [P, ...]).
    """
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    policy, arrays, meta = load_params(run_dir, seed)
    fn = make_policy_fn(policy, arrays["best" if which == "best" else "particles"], arrays)
    fn.env = meta["env"]
    return fn
