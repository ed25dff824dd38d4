"""Sample a synthetic target density with a strategy and score it against ground truth.

    python -m policysearch.sample target=double_banana strategy=sv_cma_es
    python -m policysearch.sample target=gmm strategy=svgd strategy.source=autodiff evaluations=5000
    python -m policysearch.sample target=logreg target.kwargs.dataset=wine strategy=mp_cma_es

Config: configs/sample.yaml; target group configs/target/, strategy group configs/strategy/
(shared with policysearch.train). The run directory (``out_dir``) receives

    config.yaml      resolved config
    samples.npz      final [S, n, d], records [S, R+1, n, d], evaluations [R+1], seeds [S]
    metrics.jsonl    one object per record and seed: seed, generation, evaluations, mmd2, ksd2
    summary.json     target, strategy, budget, bandwidth, final MMD^2 / KSD^2 (mean, std, per
                     seed), mode coverage / mass error (targets with modes), wall-clock, ground
                     truth method + diagnostics + cache path
    samples.png      particles of seed 0 over the density (paths for motion planning)
    curves.png       MMD^2 and KSD^2 vs function evaluations (mean +- std over seeds)

Strategy notes: SVGD ``source: autodiff`` uses jax.grad of the target's f = -log p;
for ``autodiff`` and ``surrogate`` pop_size is set to 1 (the particles are evaluated).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from omegaconf import DictConfig, OmegaConf

from policysearch.cli import UsageError, gradient_free_strategies, hydra_app, prepare_out_dir, task_overrides
from policysearch.config import apply_strategy_defaults


class SampleConfigError(UsageError):
    """Bad input to the sampling CLI (one `error:` line, exit 2)."""


def _int(cfg, key, minimum):
    v = OmegaConf.select(cfg, key)
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise SampleConfigError(f"{key}={v!r} is invalid: must be an integer >= {minimum}")
    return int(v)


def run(cfg: DictConfig, overrides: list[str] | None = None) -> dict:
    """The CLI body (also callable from Python with a composed config); returns the summary.

    The target's `strategy_defaults` fill every strategy key that `overrides` (the command-line
    overrides; under Hydra read from the job when None) does not set: pass the overrides you
    composed `cfg` with, or your explicit values are replaced by the target's defaults.
    """
    from policysearch.density import metrics as M
    from policysearch.density.ground_truth import ground_truth
    from policysearch.density.runner import ksd_curve, make_method_from_config, mmd_curve, run_method
    from policysearch.density.targets import make_target

    seeds = _int(cfg, "seeds", 1)
    seed_offset = _int(cfg, "seed_offset", 0)
    budget = _int(cfg, "evaluations", 1)
    records = _int(cfg, "records", 1)
    if cfg.ground_truth.enabled:
        _int(cfg, "ground_truth.n", 2)
        _int(cfg, "ground_truth.seed", 0)
        if cfg.ground_truth.get("cache_dir") not in (None, ""):
            prepare_out_dir(cfg.ground_truth.cache_dir, "ground_truth.cache_dir")
    bw = cfg.get("mmd_bandwidth")
    if bw is not None and (isinstance(bw, bool) or not isinstance(bw, (int, float)) or not bw > 0
                           or bw == float("inf")):
        raise SampleConfigError(f"mmd_bandwidth={bw!r} is invalid: must be null (median heuristic) "
                                "or a finite number > 0")
    overrides = task_overrides() if overrides is None else list(overrides)
    try:
        applied = apply_strategy_defaults(cfg, cfg.target.get("strategy_defaults"), overrides)
    except ValueError as e:
        raise SampleConfigError(str(e)) from None
    tkw = OmegaConf.to_container(cfg.target.get("kwargs") or OmegaConf.create({}), resolve=True)
    tkw = {k: v for k, v in tkw.items() if v is not None}
    try:
        target = make_target(str(cfg.target.name), **tkw)
    except ValueError as e:
        raise SampleConfigError(f"target: {e}") from None
    scfg = OmegaConf.to_container(cfg.strategy, resolve=True)
    try:
        probe = make_method_from_config(scfg, target, 1)
    except (ValueError, TypeError) as e:
        raise SampleConfigError(f"strategy: {e}") from None
    epg = probe.evals_per_generation
    gens = budget // epg
    if gens < 1:
        raise SampleConfigError(f"evaluations={budget} is below one generation ({epg} evaluations)")
    record_every = max(1, gens // records)
    gens = (gens // record_every) * record_every
    method = make_method_from_config(scfg, target, gens)

    out = str(cfg.out_dir or "")
    if out and os.path.exists(os.path.join(out, "summary.json")):
        raise SampleConfigError(f"out_dir={out!r} already holds a finished run; choose another")
    prepare_out_dir(out)
    with open(os.path.join(out, "config.yaml"), "w") as f:
        f.write(OmegaConf.to_yaml(cfg, resolve=True))

    t0 = time.time()
    seed_list = list(range(seed_offset, seed_offset + seeds))
    res = run_method(method, target, seed_list, gens, record_every)
    samples = res.samples                                   # [S, R+1, n, d]
    summary = {"target": target.name, "target_params_hash": target.params_hash(),
               "dim": target.dim, "strategy": method.name,
               "num_particles": int(method.strategy.num_particles),
               "pop_size": int(method.strategy.pop_size),
               "strategy_settings": OmegaConf.to_container(cfg.strategy, resolve=True),
               "strategy_defaults_applied": applied,
               "evaluations_per_generation": epg, "generations": gens,
               "evaluations": int(res.evaluations[-1]), "seeds": seed_list,
               "compile_seconds": round(res.compile_seconds, 3),
               "run_seconds": round(res.seconds, 3)}
    if samples.shape[2] < 2:
        raise SampleConfigError("the strategy yields fewer than 2 samples; MMD/KSD need >= 2")

    mmd = None
    if cfg.ground_truth.enabled:
        gt = ground_truth(target, n=int(cfg.ground_truth.n), seed=int(cfg.ground_truth.seed),
                          cache_dir=cfg.ground_truth.cache_dir)
        ref = M.MMDToReference(gt.samples, bandwidth=cfg.get("mmd_bandwidth"))
        mmd = mmd_curve(samples, ref)
        summary["ground_truth"] = {"method": gt.method, "n": int(len(gt.samples)),
                                   "path": gt.path, "diagnostics": gt.diagnostics}
        summary["mmd_bandwidth"] = ref.bandwidth
        summary["final_mmd2"] = {"mean": float(mmd[:, -1].mean()), "std": float(mmd[:, -1].std()),
                                 "per_seed": mmd[:, -1].round(6).tolist()}
    # KSD bandwidth: the MMD bandwidth when there is a ground truth (one kernel for every
    # record and seed), else the median heuristic on each particle set
    ksd = ksd_curve(samples, target, bandwidth=summary.get("mmd_bandwidth"))   # [S, R+1]
    summary["ksd_bandwidth"] = summary.get("mmd_bandwidth", "median of each particle set")
    summary["final_ksd2"] = {"mean": float(ksd[:, -1].mean()), "std": float(ksd[:, -1].std()),
                             "per_seed": ksd[:, -1].round(6).tolist()}
    if target.num_modes:
        w = target.mode_weights()
        if w is None and mmd is not None:
            w = summary["ground_truth"]["diagnostics"].get("mode_mass")
        if w is not None:
            st = [M.mode_stats(np.asarray(target.mode_labels(samples[s, -1])), w,
                               min_weight=0.01) for s in range(seeds)]
            summary["mode_coverage"] = [round(x.coverage, 4) for x in st]
            summary["mode_mass_tv"] = [round(x.tv, 4) for x in st]
    summary["wall_time_s"] = round(time.time() - t0, 2)

    gen_idx = np.arange(samples.shape[1]) * record_every
    with open(os.path.join(out, "metrics.jsonl"), "w") as f:
        for si, s in enumerate(seed_list):
            for r in range(samples.shape[1]):
                row = {"seed": s, "generation": int(gen_idx[r]),
                       "evaluations": int(res.evaluations[r]), "ksd2": float(ksd[si, r])}
                if mmd is not None:
                    row["mmd2"] = float(mmd[si, r])
                f.write(json.dumps(row) + "\n")
    np.savez_compressed(os.path.join(out, "samples.npz"), final=samples[:, -1], records=samples,
                        evaluations=res.evaluations, seeds=np.asarray(seed_list))
    if cfg.figures:
        from policysearch.density import plotting as P
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(4.5, 4))
        P.plot_samples(ax, target, samples[0, -1],
                       ground_truth=None if mmd is None else gt.samples,
                       title=f"{method.name} on {target.name}, seed {seed_list[0]}, "
                             f"{int(res.evaluations[-1])} evals")
        P.save(fig, os.path.join(out, "samples.png"))
        n_ax = 2 if mmd is not None else 1
        fig, axes = plt.subplots(1, n_ax, figsize=(4.2 * n_ax, 3.4))
        axes = np.atleast_1d(axes)
        if mmd is not None:
            P.plot_curves(axes[0], res.evaluations, {method.name: mmd},
                          f"MMD^2 (h={summary['mmd_bandwidth']:.3g})")
        P.plot_curves(axes[-1], res.evaluations, {method.name: ksd}, "KSD^2", linthresh=1.0)
        P.save(fig, os.path.join(out, "curves.png"))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


@hydra_app("sample", help_option=gradient_free_strategies)
def main(cfg: DictConfig) -> float:  # hydra_app: compile cache on, one-line errors
    summary = run(cfg)
    msg = {k: summary[k] for k in ("target", "strategy", "evaluations", "run_seconds")}
    if "final_mmd2" in summary:
        msg["final_mmd2_mean"] = round(summary["final_mmd2"]["mean"], 5)
    msg["final_ksd2_mean"] = round(summary["final_ksd2"]["mean"], 5)
    msg["out_dir"] = str(cfg.out_dir)
    msg["strategy_settings"] = summary["strategy_settings"]
    print(json.dumps(msg))
    return float(summary.get("final_mmd2", summary["final_ksd2"])["mean"])


if __name__ == "__main__":
    main()
