"""Ground-truth sample sets, verified, cached on disk and reproducible from a seed.

``ground_truth(target, n, seed)`` returns a :class:`GroundTruth` (samples ``[n, dim]`` as numpy,
the method, and its quality diagnostics). The method is the target's ``ground_truth_method``
unless given:

* ``exact``: the target's exact sampler (mixtures, funnel, rings).
* ``grid`` (2-D only): the density is evaluated at the centres of a fine grid (default
  1024 x 1024 over ``target.grid_bounds``); a cell is drawn with probability ∝ p(centre) and a
  point uniformly inside it. This is exact up to the piecewise-constant approximation (cell
  width ~ 0.01, far below any kernel bandwidth used) and the mass outside the box (reported
  as ``edge_mass``: the share of mass in the outermost ring of cells). It is cross-checked
  against NUTS chains (``check=True``): R-hat, ESS and MMD(grid, NUTS) next to the MMD of two
  independent grid sets (the noise level).
* ``nuts``: ``num_chains`` blackjax NUTS chains with window adaptation, thinned to n draws in
  total; checked by rank-normalised split R-hat (max over coordinates, must be < 1.01) and
  bulk ESS (min over coordinates, must exceed min(400, n/4)).
* ``smc``: ``num_runs`` independent adaptive tempered SMC runs (blackjax, HMC mutations) from
  the target's Gaussian prior (``target.sample_prior``, ``log_prior``, ``log_likelihood``);
  checked by the R-hat between runs and by the spread of the per-mode masses across runs.

Every diagnostic carries ``passed``; a failed check emits a ``RuntimeWarning`` (the set is
still returned and cached, the diagnostics say what failed).

Cache: ``$POLICYSEARCH_CACHE`` or ``~/.cache/policysearch/ground_truth``; the file name is
``{target.name}_{target.params_hash()}_{method}_n{n}_seed{seed}.npz`` (samples + diagnostics
JSON). Delete a file (or pass ``refresh=True``) to regenerate it.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from typing import NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np

from .metrics import mmd
from .samplers import make_tempered_smc, run_mcmc
from .base import Target

__all__ = ["GroundTruth", "ground_truth", "default_cache_dir", "cache_path", "grid_sample",
           "nuts_reference", "smc_reference", "grid_log_density"]

METHODS = ("exact", "grid", "nuts", "smc")


class GroundTruth(NamedTuple):
    samples: np.ndarray
    method: str
    diagnostics: dict
    path: str | None


def default_cache_dir() -> str:
    return os.environ.get("POLICYSEARCH_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "policysearch", "ground_truth")


def cache_path(target: Target, n: int, seed: int, method: str, cache_dir: str | None = None):
    d = cache_dir or default_cache_dir()
    return os.path.join(d, f"{target.name}_{target.params_hash()}_{method}_n{n}_seed{seed}.npz")


# -----------------------------------------------------------------------------------------
def grid_log_density(target: Target, bounds=None, resolution: int = 1024):
    """(xs, ys, logp[res, res]) at the cell centres of a regular grid (2-D targets);
    ``logp[i, j]`` is at (xs[i], ys[j])."""
    if target.dim != 2:
        raise ValueError(f"grid methods need a 2-D target, {target.name} has dim {target.dim}")
    bounds = bounds or getattr(target, "grid_bounds", None) or target.plot_bounds
    (x0, x1), (y0, y1) = bounds
    dx, dy = (x1 - x0) / resolution, (y1 - y0) / resolution
    xs = x0 + dx * (np.arange(resolution) + 0.5)
    ys = y0 + dy * (np.arange(resolution) + 0.5)
    xx, yy = np.meshgrid(xs, ys, indexing="ij")
    pts = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], 1), jnp.float32)
    lp = jax.jit(jax.vmap(target.log_prob))(pts)
    return xs, ys, np.asarray(lp, np.float64).reshape(resolution, resolution)


def grid_sample(target: Target, key, n: int, bounds=None, resolution: int = 1024):
    """Fine-grid sampler for 2-D targets; returns (samples [n, 2], info dict)."""
    xs, ys, lp = grid_log_density(target, bounds, resolution)
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    lp = np.where(np.isfinite(lp), lp, -np.inf)
    p = np.exp(lp - lp.max())
    p /= p.sum()
    edge = p.copy()
    edge[1:-1, 1:-1] = 0.0
    # float64 numpy sampling (a float32 cumsum over 1M cells loses the small cells),
    # seeded from the JAX key
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    cells = rng.choice(p.size, size=n, p=p.ravel())
    i, j = np.unravel_index(cells, p.shape)
    u = rng.uniform(size=(n, 2)) - 0.5
    pts = np.stack([xs[i] + u[:, 0] * dx, ys[j] + u[:, 1] * dy], 1)
    info = {"resolution": resolution, "cell_size": [float(dx), float(dy)],
            "edge_mass": float(edge.sum()),
            "bounds": [[float(xs[0] - dx / 2), float(xs[-1] + dx / 2)],
                       [float(ys[0] - dy / 2), float(ys[-1] + dy / 2)]]}
    return pts.astype(np.float32), info


def _chain_diagnostics(chains: jax.Array) -> dict:
    """chains [num_chains, draws, d] -> max R-hat, min bulk ESS over coordinates."""
    rhat = np.asarray(blackjax.rhat(chains, chain_axis=0, sample_axis=1))
    ess = np.asarray(blackjax.ess_bulk(chains, chain_axis=0, sample_axis=1))
    return {"rhat_max": float(np.max(rhat)), "ess_bulk_min": float(np.min(ess)),
            "num_chains": int(chains.shape[0]), "draws_per_chain": int(chains.shape[1])}


def nuts_reference(target: Target, key, n: int, num_chains: int = 8, num_warmup: int = 1000,
                   thin: int = 2, init_std: float | None = None):
    """NUTS chains (blackjax, window adaptation) started from the target's init distribution;
    returns (samples [n, d], diagnostics)."""
    per = -(-n // num_chains)
    k0, k1 = jax.random.split(key)
    x0 = target.init_particles(k0, num_chains)
    if init_std is not None:
        x0 = target.init_mean + init_std * jax.random.normal(k0, x0.shape)
    res = run_mcmc(k1, target.log_prob, x0, kernel="nuts", num_samples=per,
                   num_warmup=num_warmup, thin=thin)
    diag = _chain_diagnostics(res.samples)
    diag.update({"acceptance_rate_mean": float(jnp.mean(res.acceptance_rate)),
                 "thin": thin, "num_warmup": num_warmup})
    diag["ess_required"] = min(400, n // 4)
    diag["passed"] = bool(diag["rhat_max"] < 1.01 and diag["ess_bulk_min"] > diag["ess_required"])
    samples = np.asarray(res.samples).reshape(-1, target.dim)[:n]
    return samples, diag


def smc_reference(target: Target, key, n: int, num_runs: int = 8, num_mcmc_steps: int = 10,
                  target_ess: float = 0.8, step_scale: float = 0.5,
                  min_particles_per_run: int = 500):
    """``num_runs`` independent tempered-SMC runs (HMC moves) of max(n / num_runs,
    ``min_particles_per_run``) particles each, vmapped; n of the pooled particles are kept
    (seeded choice). Returns (samples [n, d], diagnostics).

    Checks: R-hat between runs < 1.01 (runs as chains); for targets with modes, the standard
    error of the pooled mode masses estimated from the run-to-run spread (std / sqrt(runs)) must
    be < 0.02 for every mode. (The chi-square homogeneity p-value of the runs' mode counts is
    reported too, but not used: particles within one SMC run are not independent, resampling
    makes them share ancestors, so it rejects too often.)"""
    for attr in ("sample_prior", "log_prior", "log_likelihood"):
        if not hasattr(target, attr):
            raise ValueError(f"smc ground truth needs target.{attr}; {target.name} has none")
    per = max(-(-n // num_runs), min_particles_per_run)
    run = make_tempered_smc(target.log_prior, target.log_likelihood, target.dim,
                            mutation="hmc", target_ess=target_ess,
                            num_mcmc_steps=num_mcmc_steps, step_scale=step_scale)

    def one(k):
        kp, ks = jax.random.split(k)
        return run(ks, target.sample_prior(kp, per))

    res = jax.jit(jax.vmap(one))(jax.random.split(key, num_runs))
    # particles of one run are ordered by ancestry after resampling: shuffle (seeded) so the
    # split-R-hat halves are exchangeable
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    runs = [x[rng.permutation(len(x))] for x in np.asarray(res.samples)]
    steps = np.asarray(res.num_steps).tolist()
    acc = [round(float(a), 3) for a in np.asarray(res.acceptance_rate)]
    runs_a = np.stack(runs)                         # [runs, per, d]
    rhat = np.asarray(blackjax.rhat(jnp.asarray(runs_a), chain_axis=0, sample_axis=1))
    diag = {"num_runs": num_runs, "particles_per_run": per, "tempering_steps": steps,
            "final_acceptance": acc, "rhat_between_runs_max": round(float(rhat.max()), 4)}
    ok = diag["rhat_between_runs_max"] < 1.01
    if target.num_modes:
        masses = np.stack([np.bincount(np.asarray(target.mode_labels(jnp.asarray(x))) % target.num_modes,
                                       minlength=target.num_modes) / len(x) for x in runs])
        pooled = masses.mean(0)
        se = np.sqrt(pooled * (1 - pooled) / per)   # what iid particles would give
        spread = masses.std(0, ddof=1)
        diag.update({"mode_mass_per_run": masses.round(4).tolist(),
                     "mode_mass": pooled.round(4).tolist(),
                     "mode_mass_run_std": spread.round(4).tolist(),
                     "mode_mass_binomial_se": se.round(4).tolist()})
        counts = (masses * per).round()
        counts = counts[:, counts.sum(0) > 0]
        if counts.shape[1] > 1:
            from scipy.stats import chi2_contingency
            diag["mode_mass_homogeneity_pvalue"] = round(float(chi2_contingency(counts).pvalue), 4)
        se_runs = spread / np.sqrt(num_runs)
        diag["mode_mass_se_from_runs"] = se_runs.round(4).tolist()
        ok = ok and bool(np.max(se_runs) < 0.02)
    diag["passed"] = bool(ok)
    pooled_x = runs_a.reshape(-1, target.dim)
    keep = np.sort(rng.choice(len(pooled_x), size=min(n, len(pooled_x)), replace=False))
    return pooled_x[keep], diag


# -----------------------------------------------------------------------------------------
def ground_truth(target: Target, n: int = 2000, seed: int = 0, method: str | None = None,
                 cache: bool = True, cache_dir: str | None = None, refresh: bool = False,
                 check: bool = True, verbose: bool = False) -> GroundTruth:
    """Ground-truth samples of ``target`` (see module docstring)."""
    method = method or target.ground_truth_method
    if method not in METHODS:
        raise ValueError(f"unknown ground-truth method {method!r}; valid: {', '.join(METHODS)}")
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    path = cache_path(target, n, seed, method, cache_dir) if cache else None
    if path and not refresh and os.path.exists(path):
        z = np.load(path)
        return GroundTruth(z["samples"], method, json.loads(str(z["diagnostics"])), path)

    key = jax.random.key(seed)
    t0 = time.time()
    if method == "exact":
        if not target.has_exact_sampler:
            raise ValueError(f"target {target.name!r} has no exact sampler")
        samples = np.asarray(target.sample(key, n))
        diag = {"passed": True}
    elif method == "grid":
        samples, diag = grid_sample(target, key, n)
        diag["passed"] = diag["edge_mass"] < 1e-6
        if check:
            k2, k3 = jax.random.split(jax.random.fold_in(key, 1))
            nuts_x, nuts_d = nuts_reference(target, k2, n)
            grid2, _ = grid_sample(target, k3, n)
            h = float(mmd(samples, grid2).bandwidth)
            m_nuts = float(mmd(samples, nuts_x, bandwidth=h).mmd2)
            m_grid = float(mmd(samples, grid2, bandwidth=h).mmd2)
            nuts_d.update({"mmd2_grid_vs_nuts": m_nuts, "mmd2_grid_vs_grid": m_grid,
                           "bandwidth": h})
            diag["nuts_check"] = nuts_d
            # NUTS must agree with the grid to within a few times the grid-vs-grid noise
            tol = 5 * max(abs(m_grid), 2.0 / n)
            diag["passed"] = bool(diag["passed"] and m_nuts < tol)
    elif method == "nuts":
        samples, diag = nuts_reference(target, key, n)
    else:
        samples, diag = smc_reference(target, key, n)
    diag["seconds"] = round(time.time() - t0, 2)
    diag["method"] = method
    if not diag["passed"]:
        warnings.warn(f"ground truth for {target.name} ({method}) failed its check: {diag}",
                      RuntimeWarning, stacklevel=2)
    if verbose:
        print(f"[ground truth] {target.name} {method} n={n} seed={seed}: {diag}")
    samples = np.asarray(samples, np.float32)
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + f".tmp{os.getpid()}.npz"
        np.savez(tmp, samples=samples, diagnostics=json.dumps(diag))
        os.replace(tmp, path)
    return GroundTruth(samples, method, diag, path)
