"""BTGM energy case study (paper section 4.3, appendix E, Figs. 2, 8, 9) on SYNTHETIC weekly
load curves (policysearch.btgm.cases.energy_data: 10 simulated homes summed; no real data).

    python experiments/btgm_energy.py            # ~6 min on 2 CPU cores (models cached after)
    python experiments/btgm_energy.py --quick    # smoke run

For each criterion (peak, peak_smooth, wednesday, l1_flat, l1_flat_min; normalised under p)
the beta search tunes q_beta to C_D = log 100 (KL of "p's top 1 %"), and rejection sampling
keeps p's top 1 % (1000 of 100,000 draws). Compared: f quantiles of p, q_beta and the
rejection set, the fraction of q_beta's samples above the top-1 % threshold, mean/std curves
(Fig. 2d/f, 9) and sample curves. Appendix E's Fig. 8b (wednesday at rho = 1e-4, C_D = 9.2)
is run too. The cost comparison over rho is benchmarks/btgm_rejection.py.

Outputs: experiments_out/btgm_energy/{results.json, results.md}; figures docs/figures/btgm/.
"""

from __future__ import annotations

import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

CRITERIA = ("peak", "peak_smooth", "wednesday", "l1_flat", "l1_flat_min")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def main(argv=None):
    from policysearch.btgm.cases import study

    args, log = study.experiment_setup(
        __doc__, "experiments_out/btgm_energy", argv,
        extra=lambda ap: ap.add_argument("--criteria", default=",".join(CRITERIA)))
    q = args.quick
    t_start = time.time()
    import jax
    import numpy as np

    from policysearch.btgm.cases import energy, rejection
    from policysearch.btgm.search import find_beta

    key = jax.random.key(args.seed)
    vae = energy.vae()
    data = energy.load_data()[1]
    log("energy VAE ready (SYNTHETIC data)")
    n_show = 1000
    x_p = np.asarray(vae.decode(vae.prior.sample(jax.random.fold_in(key, 1), n_show)))
    _plot_data_vs_p(os.path.join(args.figures, "energy_data_vs_p.png"), data, x_p, study)
    steps_first, steps = (250, 250) if q else (1500, 750)
    runs = [(c, 0.01) for c in args.criteria.split(",") if c]
    if not q:
        runs.append(("wednesday", 1e-4))
    res = {"note": study.SYNTHETIC_NOTE, "settings": {"vae": energy.VAE_SETTINGS,
                                                      "data": energy.DATA_SETTINGS, "quick": q},
           "runs": [], "data_level": float(data.mean()),
           "data_spread": float(data.std(0).mean())}
    for name, rho in runs:
        prob = study.latent_problem(jax.random.fold_in(key, 2), vae.decode, vae.latent_dim,
                                    energy.criterion(name), n_normalise=4000 if q else 20000)
        c_d = -math.log(rho)
        t0 = time.time()
        beta, tuned, hist = find_beta(jax.random.fold_in(key, 3), prob.base, prob.f,
                                      target_kl=c_d, steps=steps, steps_first=steps_first,
                                      max_iter=3 if q else 8, eval_samples=2048 if q else 8192)
        t_btgm = time.time() - t0
        zq = tuned.sample(jax.random.fold_in(key, 4), n_show)
        t0 = time.time()
        rej = rejection.top_fraction(jax.random.fold_in(key, 5), prob.base, prob.f, rho,
                                     n_accept=200 if q else n_show,
                                     chunk=20000 if q else 50000)
        t_rej = time.time() - t0
        fp = prob.raw_of_normalised(prob.f(prob.base.sample(jax.random.fold_in(key, 6),
                                                            20000)))
        fq = prob.raw_of_normalised(prob.f(zq))
        fr = prob.raw_of_normalised(rej["f"])
        thr = float(prob.raw_of_normalised(rej["threshold"]))
        e = tuned.estimates
        row = {"criterion": name, "rho": rho, "target_kl": c_d, "beta": beta,
               "iterations": len(hist), "converged": hist[-1]["converged"], "kl": e["kl"],
               "gap": e["gap"], "is_kl": e["is_kl"], "mean_p": float(np.mean(fp)),
               "mean_q": float(np.mean(fq)), "mean_rej": float(np.mean(fr)),
               "mean_q_theory": float(prob.raw_of_normalised(e["is_mean"])),
               "q_p": np.quantile(fp, QUANTILES).tolist(),
               "q_q": np.quantile(fq, QUANTILES).tolist(),
               "q_rej": np.quantile(fr, QUANTILES).tolist(), "threshold": thr,
               "q_above_threshold": float(np.mean(fq >= thr)),
               "btgm_s": t_btgm, "rejection_s": t_rej, "rejection_draws": rej["draws"],
               "units": "kW" if name != "hours_above" else "hours"}
        res["runs"].append(row)
        log(f"{name} rho={rho:g}: beta {beta:.3f} ({len(hist)} it, converged "
            f"{row['converged']}), KL {e['kl']:.2f} (target {c_d:.2f}), gap {e['gap']:.2f}; "
            f"E f p {row['mean_p']:.2f} q {row['mean_q']:.2f} rej {row['mean_rej']:.2f}; "
            f"q above threshold {row['q_above_threshold']:.2f}; {t_btgm:.0f}s vs {t_rej:.1f}s")
        x_q = np.asarray(vae.decode(zq))
        x_r = np.asarray(vae.decode(rej["samples"]))
        # the paper's readings of Figs. 2 and 8b: weekly level and per-hour spread of each set
        for tag, xs in (("p", x_p), ("q", x_q), ("rej", x_r)):
            row[f"level_{tag}"] = float(xs.mean())
            row[f"spread_{tag}"] = float(xs.std(0).mean())
        _plot_case(os.path.join(args.figures, f"energy_{name}_rho{rho:g}.png"), x_p, x_q, x_r,
                   name, rho, study)
    res["wall_s"] = time.time() - t_start
    study.write_results(args.out, res, _markdown(res))
    log("done")


def _plot_data_vs_p(path, data, x_p, study):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.3))
    study.plot_load_samples(axes[0], data, "(a) 5 SYNTHETIC generator curves")
    study.plot_load_samples(axes[1], x_p, "(b) 5 samples of the VAE p")
    study.plot_load_band(axes[2], {"SYNTHETIC data": data, "p (VAE)": x_p}, "mean +- std")
    fig.tight_layout()
    study.save_figure(fig, path, dpi=85)


def _plot_case(path, x_p, x_q, x_r, name, rho, study):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.3))
    study.plot_load_samples(axes[0], x_q, f"5 samples of q_beta (f = {name}, KL = log {1/rho:g})")
    study.plot_load_samples(axes[1], x_r, f"5 samples of p's top {100 * rho:g} % (rejection)")
    study.plot_load_band(axes[2], {"p": x_p, "q_beta (BTGM)": x_q,
                                   f"top {100 * rho:g} % of p": x_r},
                         f"mean +- std (SYNTHETIC data), f = {name}")
    fig.tight_layout()
    study.save_figure(fig, path, dpi=85)


def _markdown(res) -> str:
    qs = "/".join(f"{int(100 * v)}" for v in QUANTILES)
    lines = [f"All curves: {res['note']}.", "",
             f"| criterion | rho | C_D | beta | KL tuned | fit gap | E f: p / q_beta (theory) / "
             f"top-rho | f quantiles {qs} %: q_beta | top-rho | q_beta above the top-rho "
             "threshold | BTGM s | rejection s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        lines.append(
            f"| {r['criterion']} | {r['rho']:g} | {r['target_kl']:.2f} | {r['beta']:.2f} | "
            f"{r['kl']:.2f} | {r['gap']:.2f} | {r['mean_p']:.2f} / {r['mean_q']:.2f} "
            f"({r['mean_q_theory']:.2f}) / {r['mean_rej']:.2f} | "
            + " ".join(f"{v:.2f}" for v in r["q_q"]) + " | "
            + " ".join(f"{v:.2f}" for v in r["q_rej"])
            + f" | {100 * r['q_above_threshold']:.0f} % | {r['btgm_s']:.0f} | "
            f"{r['rejection_s']:.1f} |")
    lines += ["", "Weekly level (mean kW) and spread (per-hour std across samples, averaged over "
              "the week) of each set; SYNTHETIC data: "
              f"{res['data_level']:.2f} kW, spread {res['data_spread']:.2f}.", "",
              "| criterion | rho | level p / q_beta / top-rho | spread p / q_beta / top-rho |",
              "|---|---|---|---|"]
    for r in res["runs"]:
        lines.append(f"| {r['criterion']} | {r['rho']:g} | {r['level_p']:.2f} / "
                     f"{r['level_q']:.2f} / {r['level_rej']:.2f} | {r['spread_p']:.2f} / "
                     f"{r['spread_q']:.2f} / {r['spread_rej']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
