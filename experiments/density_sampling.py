"""The source documents' synthetic-density experiments (seed 001 slides, "Synthetic Density
Sampling" and the bonus "Runtime Comparison"), re-runnable by one command:

    python -m experiments.density_sampling            # default run (a few minutes, 2 cores)
    python -m experiments.density_sampling --quick    # smoke test (tiny budgets)

Methods (policysearch.density.runner): SV-CMA-ES (project), SVGD with autodiff gradients
(the reference), SVGD with ES gradient estimates, gradient-free SVGD (GF-SVGD), evosax
SV_CMA_ES, kernel-free multi-population CMA-ES. Same particles count, same initial particles per
seed, same budget of function evaluations (a gradient evaluation counts as one evaluation).

Protocol per (target, method): every point of a small hyperparameter grid (step size / learning
rate) runs on the tuning seeds 100.. and on the evaluation seeds 0.. in ONE compiled program
(the numeric params are traced); the grid point with the lowest mean final MMD^2 on the tuning
seeds is selected and reported on the evaluation seeds. MMD^2: unbiased, RBF kernel, bandwidth
= median heuristic on the ground-truth set (one kernel for all methods and checkpoints).
Wall-clock: the compiled program's time divided by its number of runs (grid points x seeds),
compile time excluded and reported separately.

Targets: 2-D Gaussian mixture (6 modes), double banana, motion planning (12-D, homotopy
classes), and Bayesian logistic regression on scikit-learn's breast-cancer data (31-D; the
slides' runtime comparison uses credit / covtype, which are not shipped with any package: pass
``--logreg-path FILE --logreg-dataset credit`` to use a local copy).

Outputs (``--out``, default docs/figures/density): results.json, results.md (the tables),
mmd_<target>.png, particles_<target>.png, motion_planning_modes.png, runtime.png.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time

import numpy as np

GRIDS = {
    "sv_cma_es": {"sigma_init": [0.3, 1.0, 3.0]},
    "mp_cma_es": {"sigma_init": [0.3, 1.0, 3.0]},
    "evosax_sv_cma_es": {"std_init": [0.3, 1.0, 3.0]},
    "svgd": {"learning_rate": [0.01, 0.03, 0.1, 0.3]},
    "svgd_es": {"learning_rate": [0.03, 0.1, 0.3], "sigma": [0.1, 0.3, 1.0]},
    "svgd_gf": {"learning_rate": [0.03, 0.3], "surrogate_std": [0.5, 3.0]},
}
QUICK_GRIDS = {
    "sv_cma_es": {"sigma_init": [1.0]},
    "mp_cma_es": {"sigma_init": [1.0]},
    "evosax_sv_cma_es": {"std_init": [1.0]},
    "svgd": {"learning_rate": [0.1]},
    "svgd_es": {"learning_rate": [0.1], "sigma": [0.3]},
    "svgd_gf": {"learning_rate": [0.1], "surrogate_std": [1.0]},
}
LABELS = {
    "sv_cma_es": "SV-CMA-ES (ours)",
    "svgd": "SVGD, autodiff grad (reference)",
    "svgd_es": "SVGD, ES grad",
    "svgd_gf": "GF-SVGD (surrogate)",
    "evosax_sv_cma_es": "evosax SV_CMA_ES",
    "mp_cma_es": "MP-CMA-ES (kernel-free)",
}
METHOD_ORDER = ["sv_cma_es", "svgd", "svgd_es", "svgd_gf", "evosax_sv_cma_es", "mp_cma_es"]
GRADIENT_STEP_METHODS = ("svgd", "svgd_gf")   # num_particles evaluations per step


def describe(method) -> dict:
    """Static options and numeric params of a method (as used), for the record."""
    import dataclasses

    out = {}
    s = method.strategy
    if dataclasses.is_dataclass(s):
        for f in dataclasses.fields(s):
            if f.name in ("num_particles", "pop_size", "dim", "objective"):
                continue
            v = getattr(s, f.name)
            if isinstance(v, (str, int, float, bool)):
                out[f.name] = v
    p = method.params
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        try:
            a = np.asarray(v)
        except Exception:  # noqa: BLE001 - nested params (evosax cma) are skipped
            continue
        if a.ndim == 0 and a.dtype != object:
            out[f.name] = float(a)
    if method.name == "evosax_sv_cma_es":   # the rest are CMA-ES constants derived from sizes
        out = {k: out[k] for k in ("std_init", "kernel_std", "alpha")}
    return out


def _grid_points(grid: dict) -> list[dict]:
    keys = list(grid)
    return [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]


def run_target(target, gt, methods, args, grids, log):
    import jax.numpy as jnp

    from policysearch.density.metrics import MMDToReference, mode_stats
    from policysearch.density.runner import ksd_curve, make_method, mmd_curve, run_method

    ref = MMDToReference(gt.samples)
    rho, m, G, S = args.particles, args.pop_size, args.generations, args.seeds
    budget = rho * m * G
    eval_seeds = list(range(S))
    tune_seeds = list(range(100, 100 + S))
    out = {"target": target.name, "dim": target.dim, "bandwidth": ref.bandwidth,
           "budget": budget, "particles": rho, "pop_size": m, "methods": {}}
    # the floor: MMD^2 of rho exact/ground-truth draws (independent of the reference set)
    floor_set = _floor_samples(target, gt, rho, S)
    if floor_set is not None:
        out["iid_floor_mmd2"] = [float(ref(jnp.asarray(x))) for x in floor_set]
    weights = target.mode_weights()
    if weights is None and target.num_modes:
        weights = np.asarray(gt.diagnostics.get("mode_mass"))
    for name in methods:
        steps = G * m if name in GRADIENT_STEP_METHODS else G
        rec = max(1, steps // args.records)
        steps = (steps // rec) * rec
        meth = make_method(name, target, rho, m, steps)
        points = _grid_points(grids[name])
        plist = [meth.params.replace(**{k: float(v) for k, v in p.items()}) for p in points]
        res = run_method(meth, target, tune_seeds + eval_seeds, steps, rec, params_grid=plist)
        mmd = mmd_curve(res.samples, ref)                       # [Gp, 2S, R+1]
        tune_final = mmd[:, :S, -1].mean(1)
        best = int(np.argmin(tune_final))
        samples = res.samples[best, S:]                          # [S, R+1, n, d]
        curve = mmd[best, S:]                                    # [S, R+1]
        ksd = ksd_curve(samples[:, -1:], target, bandwidth=ref.bandwidth)[:, 0]
        entry = {
            "label": LABELS[name], "selected": points[best], "config": describe(meth),
            "grid": points, "tune_final_mmd2": tune_final.round(6).tolist(),
            "evaluations": res.evaluations.tolist(), "mmd2_curve": curve.round(6).tolist(),
            "final_mmd2": curve[:, -1].round(6).tolist(), "final_ksd2": ksd.round(4).tolist(),
            "seconds_per_run": res.seconds / (len(points) * 2 * S),
            "compile_seconds": res.compile_seconds,
            "final_particles_seed0": samples[0, -1].tolist(),
        }
        if weights is not None:
            st = [mode_stats(np.asarray(target.mode_labels(samples[s, -1])), weights,
                             min_weight=0.01) for s in range(S)]
            entry["mode_coverage"] = [x.coverage for x in st]
            entry["mode_tv"] = [x.tv for x in st]
        if hasattr(target, "accuracy"):
            entry["train_accuracy"] = [float(target.accuracy(jnp.asarray(samples[s, -1])))
                                       for s in range(S)]
        out["methods"][name] = entry
        log(f"  {name:18s} sel={points[best]} final MMD2 {np.mean(entry['final_mmd2']):.4f}"
            f" ± {np.std(entry['final_mmd2']):.4f}  {entry['seconds_per_run']*1e3:.1f} ms/run"
            f"  (compile {res.compile_seconds:.1f}s)")
    return out


def _floor_samples(target, gt, n, S):
    """S independent sets of n draws of the target (not from the reference set)."""
    import jax
    if target.has_exact_sampler:
        return [np.asarray(target.sample(jax.random.key(1000 + s), n)) for s in range(S)]
    from policysearch.density.ground_truth import ground_truth
    # an independent ground-truth set (seed 1, same method and size; cached)
    other = ground_truth(target, n=len(gt.samples), seed=1, method=gt.method, check=False)
    if len(other.samples) < n * S:
        return None
    return [other.samples[s * n:(s + 1) * n] for s in range(S)]


# -------------------------------------------------------------------------------- figures
def figures(results, targets, gts, out_dir):
    import matplotlib.pyplot as plt

    from policysearch.density import plotting as P

    for r in results:
        t = targets[r["target"]]
        fig, ax = plt.subplots(figsize=(5.2, 3.6))
        for i, (name, v) in enumerate(r["methods"].items()):
            c = np.asarray(v["mmd2_curve"])
            e = np.asarray(v["evaluations"])
            col = P.CLASS_COLOURS[i % len(P.CLASS_COLOURS)]
            ax.plot(e, c.mean(0), color=col, label=v["label"])
            ax.fill_between(e, c.mean(0) - c.std(0), c.mean(0) + c.std(0), color=col, alpha=0.12)
        if "iid_floor_mmd2" in r:
            ax.axhline(np.mean(r["iid_floor_mmd2"]), color="k", ls=":", lw=1,
                       label=f"{r['particles']} exact draws")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xlabel("function evaluations")
        ax.set_ylabel(f"MMD² to ground truth (h={r['bandwidth']:.2f})")
        ax.set_title(f"{r['target']} (d={r['dim']})", fontsize=9)
        ax.legend(fontsize=6)
        P.save(fig, os.path.join(out_dir, f"mmd_{r['target']}.png"))

        names = list(r["methods"])
        fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.6))
        for ax, name in zip(np.atleast_1d(axes), names):
            P.plot_samples(ax, t, np.asarray(r["methods"][name]["final_particles_seed0"]),
                           ground_truth=gts[r["target"]].samples, title=LABELS[name], s=8)
            ax.set_xticks([])
            ax.set_yticks([])
        P.save(fig, os.path.join(out_dir, f"particles_{r['target']}.png"))

    # runtime comparison
    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.0))
    for ax, r in zip(np.atleast_1d(axes), results):
        names = list(r["methods"])
        vals = [r["methods"][n]["seconds_per_run"] for n in names]
        ax.bar(range(len(names)), vals, color=[P.CLASS_COLOURS[i] for i in range(len(names))])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([LABELS[n].split(" (")[0].replace("SVGD, ", "SVGD ") for n in names],
                           rotation=60, ha="right", fontsize=6)
        ax.set_ylabel("seconds per run", fontsize=7)
        ax.set_title(f"{r['target']} ({r['budget']} evals)", fontsize=8)
    P.save(fig, os.path.join(out_dir, "runtime.png"))


def motion_planning_figure(target, gt, out_dir):
    import matplotlib.pyplot as plt

    from policysearch.density import plotting as P

    x = gt.samples
    lab = np.asarray(target.mode_labels(x))
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(8.5, 3.2), gridspec_kw={"width_ratios": [2.4, 1]})
    P.plot_paths(a0, target, x[:400], lab[:400], alpha=0.25)
    a0.set_title("ground-truth paths (tempered SMC), coloured by homotopy class", fontsize=8)
    names = target.class_names()
    mass = np.bincount(lab, minlength=target.num_modes) / len(lab)
    a1.bar(range(len(mass)), mass, color=P.CLASS_COLOURS[: len(mass)])
    a1.set_xticks(range(len(mass)))
    a1.set_xticklabels(names, rotation=30, ha="right", fontsize=7)
    a1.set_ylabel("probability mass")
    P.save(fig, os.path.join(out_dir, "motion_planning_modes.png"))


# -------------------------------------------------------------------------------- tables
def _ms(v, fmt="{:.4f}"):
    v = np.asarray(v, np.float64)
    return (fmt + " ± " + fmt).format(v.mean(), v.std())


def tables(results, args) -> str:
    lines = []
    for r in results:
        lines.append(f"**{r['target']}** (d = {r['dim']}; {r['particles']} particles; budget "
                     f"{r['budget']} evaluations; MMD bandwidth h = {r['bandwidth']:.3f}"
                     + (f"; {r['particles']} exact draws give MMD² {_ms(r['iid_floor_mmd2'])}"
                        if "iid_floor_mmd2" in r else "") + ")\n")
        has_modes = any("mode_coverage" in v for v in r["methods"].values())
        has_acc = any("train_accuracy" in v for v in r["methods"].values())
        head = "| method | selected | MMD² @ 25% | MMD² @ 100% | KSD² (final) |"
        sep = "|---|---|---|---|---|"
        if has_modes:
            head += " mode coverage | mode-mass TV |"
            sep += "---|---|"
        if has_acc:
            head += " train acc. |"
            sep += "---|"
        head += " ms / run | compile s |"
        sep += "---|---|"
        lines += [head, sep]
        for name, v in r["methods"].items():
            c = np.asarray(v["mmd2_curve"])
            q = c[:, len(v["evaluations"]) // 4]
            sel = ", ".join(f"{k}={val:g}" for k, val in v["selected"].items())
            row = (f"| {v['label']} | {sel} | {_ms(q)} | {_ms(v['final_mmd2'])} | "
                   f"{_ms(v['final_ksd2'], '{:.3g}')} |")
            if has_modes:
                row += f" {_ms(v['mode_coverage'], '{:.2f}')} | {_ms(v['mode_tv'], '{:.2f}')} |"
            if has_acc:
                row += f" {_ms(v['train_accuracy'], '{:.3f}')} |"
            row += f" {v['seconds_per_run'] * 1e3:.1f} | {v['compile_seconds']:.1f} |"
            lines.append(row)
        lines.append("")
    r0 = results[0]["methods"]
    def fmt(val):
        return f"{val:g}" if isinstance(val, float) else str(val)

    lines.append("Method settings (besides the tuned value): " + "; ".join(
        f"{LABELS[n]}: " + ", ".join(f"{k}={fmt(val)}" for k, val in m["config"].items()
                                     if k not in m["selected"] and k != "num_generations")
        for n, m in r0.items()) + "\n")
    return "\n".join(lines)


# -------------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    ap.add_argument("--out", default="docs/figures/density")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--particles", type=int, default=None)
    ap.add_argument("--pop-size", type=int, default=None)
    ap.add_argument("--generations", type=int, default=None,
                    help="generations of the ES methods; budget = particles x pop_size x this")
    ap.add_argument("--records", type=int, default=20)
    ap.add_argument("--targets", default="gmm,double_banana,motion_planning,logreg")
    ap.add_argument("--methods", default=",".join(METHOD_ORDER))
    ap.add_argument("--gt-n", type=int, default=None)
    ap.add_argument("--logreg-dataset", default="breast_cancer")
    ap.add_argument("--logreg-path", default=None)
    args = ap.parse_args(argv)
    q = args.quick
    args.seeds = args.seeds or (2 if q else 5)
    args.particles = args.particles or (8 if q else 32)
    args.pop_size = args.pop_size or (4 if q else 8)
    args.generations = args.generations or (8 if q else 150)
    args.records = min(args.records, args.generations)
    gt_n = args.gt_n or (300 if q else 2000)
    grids = QUICK_GRIDS if q else GRIDS
    os.makedirs(args.out, exist_ok=True)

    from policysearch import compile_cache
    compile_cache.enable()
    from policysearch.density.ground_truth import ground_truth
    from policysearch.density.targets import make_target

    def log(msg):
        print(msg, flush=True)

    t_start = time.time()
    results, targets, gts = [], {}, {}
    for tname in [s for s in args.targets.split(",") if s]:
        kw = {}
        if tname == "logreg":
            kw = {"dataset": args.logreg_dataset, "path": args.logreg_path}
        t = make_target(tname, **kw)
        t0 = time.time()
        gt = ground_truth(t, n=gt_n, seed=0)
        log(f"[{t.name}] ground truth: {gt.method}, passed={gt.diagnostics.get('passed')}, "
            f"{time.time() - t0:.1f}s ({gt.path})")
        targets[t.name], gts[t.name] = t, gt
        r = run_target(t, gt, [m for m in args.methods.split(",") if m], args, grids, log)
        r["ground_truth"] = {"method": gt.method, "n": int(len(gt.samples)),
                             "diagnostics": gt.diagnostics}
        results.append(r)
        if tname == "motion_planning":
            motion_planning_figure(t, gt, args.out)
    figures(results, targets, gts, args.out)
    md = tables(results, args)
    total = time.time() - t_start
    cmd = "python -m experiments.density_sampling" + (" --quick" if q else "")
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(f"<!-- generated by `{cmd}` in {total:.0f} s -->\n\n" + md)
    for r in results:
        for v in r["methods"].values():
            v.pop("final_particles_seed0", None)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"args": vars(args), "total_seconds": total, "results": results}, f, indent=1)
    print(md)
    log(f"total {total:.0f} s; outputs in {args.out}")
    return results


if __name__ == "__main__":
    main()
