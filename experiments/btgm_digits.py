"""BTGM digits case study (paper sections 4.1-4.2, appendices C-D, Figs. 1 and 3-7) on
scikit-learn's bundled 8x8 digits: a VAE p, a classifier h, latent-space tuning.

    python experiments/btgm_digits.py            # ~5 min on 2 CPU cores (models cached after)
    python experiments/btgm_digits.py --quick    # smoke run

What it does (all criteria normalised to mean 0 / std 1 under p, target class 4):
1. criterion assessment: gradient norms in latent space of log h(l|x) vs h(l|x), pooled over
   the ten classes (Fig. 1) and the one-line verdict for class 4;
2. beta sweeps (warm-started flows) for log_class and class: theoretical (importance
   sampling on ONE common set of 50,000 draws of p, for the table and the figures alike) vs
   empirical E f and KL (Figs. 3-4), Pareto fronts, class-4 fraction vs beta, sample grids
   (Fig. 5);
3. beta search to C_D = -log P_p(class 4) (the KL of "p restricted to class 4") for both
   criteria: which one gives the higher class-4 fraction at that KL;
4. pixel-sum criteria ink_more / ink_less: sweeps, Pareto fronts, sample grids (Figs. 6-7).

Outputs: experiments_out/btgm_digits/{results.json, results.md}, figures in docs/figures/btgm/.
"""

from __future__ import annotations

import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

TARGET = 4


def main(argv=None):
    from policysearch.btgm.cases import study

    args, log = study.experiment_setup(__doc__, "experiments_out/btgm_digits", argv)
    q = args.quick
    t_start = time.time()
    import jax
    import jax.numpy as jnp
    import numpy as np

    from policysearch.btgm.assess import compare_criteria, gradient_norms, normalize_criterion
    from policysearch.btgm.cases import digits
    from policysearch.btgm.estimators import tilt_curve
    from policysearch.btgm.search import find_beta

    key = jax.random.key(args.seed)
    vae, h = digits.vae(), digits.classifier()
    x_tr, y_tr, x_te, y_te = digits.load_data()
    acc = float(np.mean(np.argmax(np.asarray(h.log_probs(x_te)), 1) == y_te))
    n_p = 4000 if q else 50000
    z_p = vae.prior.sample(jax.random.fold_in(key, 1), n_p)
    cls_p = np.asarray(jnp.argmax(h.log_probs(vae.decode(z_p)), 1))
    p_frac = np.bincount(cls_p, minlength=10) / n_p
    log(f"classifier test accuracy {acc:.3f}; class fractions under p {np.round(p_frac, 3)}")
    res = {"classifier_test_accuracy": acc, "p_class_fractions": p_frac.tolist(), "is_draws": n_p,
           "settings": {"vae": digits.VAE_SETTINGS, "classifier": digits.CLASSIFIER_SETTINGS,
                        "target_class": TARGET, "quick": q}}

    # ---------------------------------------------------------------- 1. assessment (Fig. 1)
    z_a = z_p[: (500 if q else 2000)]
    pooled = {"log_class": [], "class": []}
    for l in range(10):
        for name in pooled:
            ft = lambda z, name=name, l=l: digits.criterion(name, h, l)(vae.decode(z))  # noqa
            fn, _, _ = normalize_criterion(ft, z_a)
            pooled[name].append(gradient_norms(fn, z_a))
    f4 = {name: (lambda z, name=name: digits.criterion(name, h, TARGET)(vae.decode(z)))
          for name in ("log_class", "class")}
    verdict, summ = compare_criteria(z_a, f4)
    log("assessment (class 4): " + verdict)
    res["assessment"] = {"verdict": verdict,
                         "class4": {k: {kk: vv for kk, vv in v.items() if kk not in ("hist",
                                                                                     "edges")}
                                    for k, v in summ.items() if k != "order"},
                         "pooled": {k: {"q50": float(np.median(np.concatenate(v))),
                                        "q99": float(np.quantile(np.concatenate(v), 0.99)),
                                        "max": float(np.max(np.concatenate(v))),
                                        "frac_below_0.05": float(np.mean(np.concatenate(v)
                                                                          < 0.05))}
                                    for k, v in pooled.items()}}
    _plot_gradnorms(os.path.join(args.figures, "digits_gradnorms.png"),
                    {k: np.concatenate(v) for k, v in pooled.items()})

    # ---------------------------------------------------------------- 2. sweeps (Figs. 3-5)
    steps_first, steps = (250, 250) if q else (1500, 750)
    betas = [0.0, 1.0, 3.0] if q else [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0]
    fine = np.linspace(0, max(betas), 81)
    res["sweeps"] = {}
    series, class_frac = {}, {}
    w = {}
    for name in ("log_class", "class", "ink_more", "ink_less"):
        grid = betas if name in ("log_class", "class") else (
            [0.0, 1.0, 2.0] if q else [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
        prob = study.latent_problem(jax.random.fold_in(key, 2), vae.decode, vae.latent_dim,
                                    digits.criterion(name, h, TARGET),
                                    n_normalise=4000 if q else 20000)
        fz = np.asarray(prob.f(z_p))
        th = {k: np.asarray(v).tolist() for k, v in tilt_curve(fz, fine).items()}
        th["beta"] = fine.tolist()
        th["label"] = f"theory (IS on {n_p:,} draws of p)"
        # theoretical class-4 fraction: IS weights on p's samples
        th_frac = [float(np.sum(study.is_weights(fz, b) * (cls_p == TARGET))) for b in fine]
        t0 = time.time()
        tuned = study.beta_sweep(jax.random.fold_in(key, 3), prob.base, prob.f, grid,
                                 steps_first=steps_first, steps=steps,
                                 eval_samples=2048 if q else 8192)
        rows = study.sweep_rows(tuned, fz)     # theory columns: the figure's common curve
        imgs = []
        for t, r in zip(tuned, rows):
            zq = t.sample(jax.random.fold_in(key, 4), 2000)
            xq = vae.decode(zq)
            cls_q = np.asarray(jnp.argmax(h.log_probs(xq), 1))
            r["class4_frac"] = float(np.mean(cls_q == TARGET))
            r["class_fractions"] = (np.bincount(cls_q, minlength=10) / len(cls_q)).tolist()
            r["class4_frac_theory"] = float(np.sum(study.is_weights(fz, r["beta"]) * (cls_p == TARGET)))
            r["ink_mean"] = float(jnp.mean(jnp.sum(xq, 1)))
            imgs.append(np.asarray(xq[:12]))
        log(f"sweep {name}: {len(grid)} betas in {time.time() - t0:.1f}s; " + "; ".join(
            f"b={r['beta']:.2f} Ef {r['mean']:.2f}/{r['is_mean']:.2f} KL {r['kl']:.2f}/"
            f"{r['is_kl']:.2f} c4 {r['class4_frac']:.2f}" for r in rows))
        res["sweeps"][name] = {"shift": prob.shift, "scale": prob.scale, "rows": rows,
                               "train_s": time.time() - t0}
        series[name], class_frac[name] = rows, (fine, th_frac)
        study.plot_curves(os.path.join(args.figures, f"digits_{name}_curves.png"),
                          th, {f"tuned flow ({name})": rows},
                          f"digits, f = {name} (normalised), latent-space BTGM: theory vs tuned")
        study.plot_image_rows(os.path.join(args.figures, f"digits_{name}_samples.png"), imgs,
                              [study.beta_label(r) for r in rows],
                              f"q_beta samples, f = {name} (rows: increasing beta)")
        w[name] = th
    _plot_pareto_and_fraction(os.path.join(args.figures, "digits_pareto_class_fraction.png"),
                              w, series, class_frac)

    # ---------------------------------------------------------------- 3. beta search
    c_d = float(-math.log(p_frac[TARGET]))
    res["search"] = {"target_kl": c_d}
    for name in ("log_class", "class"):
        prob = study.latent_problem(jax.random.fold_in(key, 2), vae.decode, vae.latent_dim,
                                    digits.criterion(name, h, TARGET),
                                    n_normalise=4000 if q else 20000)
        t0 = time.time()
        beta, tuned, hist = find_beta(jax.random.fold_in(key, 5), prob.base, prob.f,
                                      target_kl=c_d, steps=steps, steps_first=steps_first,
                                      max_iter=3 if q else 8, eval_samples=2048 if q else 8192)
        xq = vae.decode(tuned.sample(jax.random.fold_in(key, 6), 2000))
        frac = float(np.mean(np.asarray(jnp.argmax(h.log_probs(xq), 1)) == TARGET))
        e = tuned.estimates
        res["search"][name] = {"beta": beta, "iterations": len(hist),
                               "converged": hist[-1]["converged"], "kl": e["kl"],
                               "mean": e["mean"], "gap": e["gap"], "class4_frac": frac,
                               "seconds": time.time() - t0,
                               "betas": [hh["beta"] for hh in hist]}
        log(f"search {name}: C_D={c_d:.3f} -> beta {beta:.3f} in {len(hist)} iterations, "
            f"KL {e['kl']:.3f}, class-4 fraction {frac:.3f}, gap {e['gap']:.3f}")

    res["wall_s"] = time.time() - t_start
    study.write_results(args.out, res, _markdown(res))
    log("done")


def _plot_gradnorms(path, norms):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from policysearch.btgm.cases import study
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3.5))
    hi = float(max(np.quantile(v, 0.99) for v in norms.values()))
    for name, v in norms.items():
        ax.hist(v, bins=60, range=(0, hi), alpha=0.55, density=True,
                label=f"f = {name} (max {v.max():.1f})")
    ax.set(xlabel="||grad_z f_normalised|| (latent space, 10 classes pooled, truncated at q99)",
           ylabel="density", title="Fig. 1: gradient norms of the two criteria under p")
    ax.legend(fontsize=8)
    fig.tight_layout()
    study.save_figure(fig, path)


def _plot_pareto_and_fraction(path, theory, series, class_frac):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from policysearch.btgm.cases import study

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, rows in series.items():
        line, = axes[0].plot(theory[name]["kl"], theory[name]["mean"], "-", lw=1)
        axes[0].plot([r["kl"] for r in rows], [r["mean"] for r in rows], "o--",
                     color=line.get_color(), label=name)
        if name in ("log_class", "class"):
            fb, tf = class_frac[name]
            l2, = axes[1].plot(fb, tf, "-", lw=1, label=f"{name} (theory)")
            axes[1].plot([r["beta"] for r in rows], [r["class4_frac"] for r in rows], "o--",
                         color=l2.get_color(), label=f"{name} (tuned)")
    axes[0].set(xlabel="KL(q||p)", ylabel="E_q f (normalised)",
                title="Pareto fronts (lines: theory; dots: tuned)")
    axes[0].legend(fontsize=7)
    axes[1].set(xlabel="beta", ylabel="fraction classified as 4",
                title="class-4 fraction vs beta")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    study.save_figure(fig, path)


def _markdown(res) -> str:
    import numpy as np

    lines = [f"Classifier h test accuracy {res['classifier_test_accuracy']:.3f}; fraction of p's "
             f"samples classified as 4: {res['p_class_fractions'][TARGET]:.3f}.\n",
             f"Criterion assessment (class 4): {res['assessment']['verdict']}\n",
             f"Theory: importance sampling on one common set of {res['is_draws']:,} draws of p "
             "for every beta (ESS in brackets).\n",
             "| criterion | beta | E f tuned | E f theory | KL tuned | KL theory (ESS) | fit gap | "
             "class-4 fraction tuned | theory |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in res["sweeps"].items():
        for r in s["rows"]:
            lines.append(f"| {name} | {r['beta']:g} | {r['mean']:.3f} | {r['is_mean']:.3f} | "
                         f"{r['kl']:.3f} | {r['is_kl']:.3f} ({r['is_ess']:,.0f}) | {r['gap']:.3f} | "
                         f"{r['class4_frac']:.3f} | {r['class4_frac_theory']:.3f} |")
    for name in ("log_class", "class"):
        rows = res["sweeps"][name]["rows"]
        order = [[int(c) for c in np.argsort(r["class_fractions"])[::-1] if c != TARGET
                  and r["class_fractions"][c] > 0][:3] for r in rows]
        lines.append(f"\n{name}: the three most frequent other classes per beta: " + "; ".join(
            f"b={r['beta']:g}: {o}" for r, o in zip(rows, order)))
    s = res["search"]
    lines += ["", f"Beta search to C_D = -log P_p(class 4) = {s['target_kl']:.3f}:", "",
              "| criterion | beta | iterations | converged | KL | fit gap | class-4 fraction |",
              "|---|---|---|---|---|---|---|"]
    for name in ("log_class", "class"):
        r = s[name]
        lines.append(f"| {name} | {r['beta']:.3f} | {r['iterations']} | {r['converged']} | "
                     f"{r['kl']:.3f} | {r['gap']:.3f} | {r['class4_frac']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
