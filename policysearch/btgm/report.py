"""Figures and the Markdown / HTML report of a BTGM CLI run (policysearch.btgm.cli)."""

from __future__ import annotations

import os

import numpy as np

from policysearch.report.render import fmt, to_html, to_markdown


def _save(fig, path):
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def draw_default(ax, x, title=""):
    """Scatter of the first two coordinates (d >= 2) or a histogram (d = 1); 20 curves for
    d > 8 (time series)."""
    x = np.asarray(x)
    if x.shape[1] == 1:
        ax.hist(x[:, 0], bins=50)
    elif x.shape[1] <= 8:
        ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.4)
    else:
        ax.plot(x[:20].T, lw=0.6)
    ax.set_title(title, fontsize=9)


def figures(out, summary, tb, is_c, smc_c, s, m, models, flow_mode, model, xp, xq, norms):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["rows"]
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.4))
    bt = tb / s
    ax[0].plot(bt, m + s * is_c["mean"], label="theory (IS)")
    ax[1].plot(bt, is_c["kl"], label="theory (IS)")
    ax[2].plot(is_c["kl"], m + s * is_c["mean"], label="theory (IS)")
    if smc_c is not None:
        ax[0].plot(bt, m + s * smc_c["mean"], "--", label="theory (SMC)")
        ax[1].plot(bt, smc_c["kl"], "--", label="theory (SMC)")
        ax[2].plot(smc_c["kl"], m + s * smc_c["mean"], "--", label="theory (SMC)")
    if rows and "exact" in rows[0]:
        ax[0].plot([r["beta"] for r in rows], [r["exact"]["mean"] for r in rows], "k+",
                   ms=10, label="closed form")
        ax[1].plot([r["beta"] for r in rows], [r["exact"]["kl"] for r in rows], "k+", ms=10,
                   label="closed form")
    lab = "tuned flow" if flow_mode else f"{summary['method']} samples"
    eb = [r["beta"] for r in rows]
    em = [r["empirical"]["mean"] for r in rows]
    ek = [r["empirical"]["kl"] for r in rows]
    ax[0].plot(eb, em, "o", label=lab)
    ax[1].plot(eb, ek, "o", label=lab)
    ax[2].plot(ek, em, "o", label=lab)
    ax[0].set(xlabel="beta", ylabel="E_q f")
    ax[1].set(xlabel="beta", ylabel="KL(q || p)")
    ax[2].set(xlabel="KL(q || p)", ylabel="E_q f", title="Pareto front")
    if summary["target"]["kl"] is not None:
        ax[1].axhline(summary["target"]["kl"], color="gray", lw=0.8, ls=":")
    ax[0].legend(fontsize=7)
    _save(fig, os.path.join(out, "curves.png"))

    draw = model.draw or draw_default
    fig, ax = plt.subplots(1, 2, figsize=(8, 4))
    draw(ax[0], xp[:200], "samples of p")
    draw(ax[1], xq[:200], f"samples of q, beta={summary['beta']:.3g}")
    _save(fig, os.path.join(out, "samples.png"))

    if norms is not None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.hist(norms, bins=50, range=(0, float(np.quantile(norms, 0.995)) or 1.0))
        ax.set(xlabel="||grad f_normalised|| under p", ylabel="count")
        _save(fig, os.path.join(out, "grad_norms.png"))
    if flow_mode:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for b, mdl in sorted(models.items()):
            ax.plot(mdl.losses, lw=0.7, label=f"beta={b / s:.3g}")
        ax.set(xlabel="step", ylabel="loss (-objective of eq. 9)")
        ax.legend(fontsize=7)
        _save(fig, os.path.join(out, "losses.png"))


def write(out, summary, with_figures: bool) -> None:
    t = summary["target"]
    tgt = (f"KL = {t['kl']}" if t["kl"] is not None else
           f"E f = {t['mean']}" if t["mean"] is not None else f"beta = {t['beta']}")
    fin = summary["final"]["empirical"]
    blocks = [("h1", f"BTGM: {summary['case']} / {summary['criterion']}"),
              ("p", f"Target {tgt}; method {summary['method']}; found beta = "
                    f"{summary['beta']:.4g} (normalised f: {summary['beta_normalized']:.4g}); "
                    f"converged: {fmt(summary['converged'])}. Final model: E f = "
                    f"{fin['mean']:.4g}, KL = {fin['kl']:.4g}"
                    + (f", fit gap KL(q_g||q_beta) = {fin['gap']:.3g}" if "gap" in fin else "")
                    + f". Wall time {summary['wall_time_s']} s.")]
    head = ["beta", "E f theory (IS)", "E f theory (SMC)", "E f exact", "E f empirical",
            "KL theory (IS)", "KL theory (SMC)", "KL exact", "KL empirical", "fit gap",
            "IS ESS"]
    rows = []
    for r in summary["rows"]:
        rows.append([fmt(r["beta"]), fmt(r["theory_is"]["mean"]),
                     fmt(r.get("theory_smc", {}).get("mean")), fmt(r.get("exact", {}).get("mean")),
                     fmt(r["empirical"]["mean"]), fmt(r["theory_is"]["kl"]),
                     fmt(r.get("theory_smc", {}).get("kl")), fmt(r.get("exact", {}).get("kl")),
                     fmt(r["empirical"]["kl"]), fmt(r["empirical"].get("gap")),
                     fmt(r["theory_is"]["ess"])])
    tv = summary.get("theory_vs_empirical")
    blocks += [("h2", "Estimates per beta"), ("table", head, rows)]
    if tv:
        blocks.append(("p", f"Theory ({tv['theory'].replace('theory_', '').upper()}) vs the "
                            f"tuned models over these betas: mean |E f difference| "
                            f"{fmt(tv['mean_abs_err'])}, mean |KL difference| "
                            f"{fmt(tv['kl_abs_err'])} (app. C: a large difference says the "
                            "criterion is hard to tune with)."))
    blocks.append(("p", "Theory (IS) saturates at KL = log N; theory (SMC) does not. The fit "
                        "gap log Z - (beta E f - KL) = KL(q_g || q_beta) >= 0 measures how well "
                        "the flow fits q_beta."))
    if summary["search"]:
        blocks += [("h2", "Beta search"),
                   ("table", ["iter", "beta (normalised f)", "E f (normalised)", "KL",
                              "residual", "tolerance", "next step by"],
                    [[h["iter"], fmt(h["beta"]), fmt(h["mean"]), fmt(h["kl"]),
                      fmt(h["residual"]), fmt(h["tolerance"]), h.get("rule") or "–"]
                     for h in summary["search"]])]
    g = summary["gradient_norms"]
    if g:
        blocks += [("h2", "Criterion assessment (gradient norms of the normalised f under p)"),
                   ("p", f"median {g['q50']:.3g}, q90 {g['q90']:.3g}, q99 {g['q99']:.3g}, max "
                         f"{g['max']:.3g}; {100 * g['frac_near_zero']:.1f}% near zero; "
                         f"concentration E g^2 / (E g)^2 = {g['concentration']:.3g}")]
    if summary.get("comparison"):
        blocks += [("h2", "Comparison of two criteria"), ("p", summary["comparison"]["line"])]
    if summary.get("latent"):
        blocks.append(("p", "Tuned in the latent space of a frozen decoder: the KL above is "
                            "KL(q(z) || p(z)), an upper bound of the data-space KL(q(x) || p(x)) "
                            "(app. B)."))
    if with_figures:
        blocks += [("img", "curves.png", "E f vs beta, KL vs beta, Pareto front"),
                   ("img", "samples.png", "samples of p and of the tuned q")]
        if g:
            blocks.append(("img", "grad_norms.png", "gradient norms under p"))
        if os.path.exists(os.path.join(out, "losses.png")):
            blocks.append(("img", "losses.png", "flow training loss per beta"))
    with open(os.path.join(out, "report.md"), "w") as fh:
        fh.write(to_markdown(blocks))
    with open(os.path.join(out, "index.html"), "w") as fh:
        fh.write(to_html(f"BTGM {summary['case']} {summary['criterion']}", blocks))
