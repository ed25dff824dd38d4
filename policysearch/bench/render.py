"""A bench's documents: table.md, index.html and the PNG figures (rliable's plot_utils).

Figures: interval estimates of IQM / mean / median / optimality gap, performance profiles, and
the probability of improvement of the reference strategy over each other one. The document
model (tables, figures, captions) is the report's (policysearch/report/render.py).
"""

from __future__ import annotations

import os

import numpy as np

from ..report.render import fmt, fmt_stats, to_html, to_markdown
from .aggregate import METRICS, QD_KEYS

CAPTIONS = {
    "interval_estimates": "Aggregates of the normalised score over all envs and seeds (0 = the initial "
                          "policies, 1 = the solve threshold): interquartile mean (IQM), mean, median of the "
                          "per-env means, and optimality gap (mean shortfall below 1; lower is better). "
                          "Bars: 95 % stratified bootstrap CIs; black line: point estimate.",
    "performance_profiles": "Performance profiles: fraction of runs (seed x env) with normalised score > tau, "
                            "with 95 % CIs; a curve above another everywhere dominates it (tau = 1: solved).",
    "probability_of_improvement": "Probability that the reference strategy (left) scores higher than the other "
                                  "(right) on a random run of a random env, averaged over envs, with 95 % CIs; "
                                  "> 0.5 favours the reference.",
}


def _ci(entry, digits=3) -> str:
    return f"{fmt(entry['point'], digits)} [{fmt(entry['ci'][0], digits)}, {fmt(entry['ci'][1], digits)}]"


def write_figures(results: dict, out_dir: str) -> dict[str, str]:
    """The three rliable figures as PNGs in out_dir; returns {name: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rliable import plot_utils

    strategies = results["strategies"]
    agg = results["aggregates"]
    paths = {}
    point = {s: np.array([agg[s][m]["point"] for m in METRICS]) for s in strategies}
    ci = {s: np.array([agg[s][m]["ci"] for m in METRICS]).T for s in strategies}
    fig, _ = plot_utils.plot_interval_estimates(point, ci, metric_names=list(METRICS), algorithms=strategies,
                                                xlabel="Normalised score", row_height=0.5)
    paths["interval_estimates"] = os.path.join(out_dir, "interval_estimates.png")
    fig.savefig(paths["interval_estimates"], bbox_inches="tight", dpi=110)
    plt.close(fig)

    pp = results["performance_profiles"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_performance_profiles({s: np.array(pp[s]["profile"]) for s in strategies}, np.array(pp["taus"]),
                                         {s: (np.array(pp[s]["ci_low"]), np.array(pp[s]["ci_high"]))
                                          for s in strategies}, ax=ax, xlabel=r"Normalised score ($\tau$)",
                                         legend=True)
    ax.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    paths["performance_profiles"] = os.path.join(out_dir, "performance_profiles.png")
    fig.savefig(paths["performance_profiles"], bbox_inches="tight", dpi=110)
    plt.close(fig)

    poi = results["probability_of_improvement"]
    if poi:
        fig, ax = plt.subplots(figsize=(4.5, 0.5 + 0.45 * len(poi)))
        plot_utils.plot_probability_of_improvement({k: v["point"] for k, v in poi.items()},
                                                   {k: np.array(v["ci"]) for k, v in poi.items()}, ax=ax)
        paths["probability_of_improvement"] = os.path.join(out_dir, "probability_of_improvement.png")
        fig.savefig(paths["probability_of_improvement"], bbox_inches="tight", dpi=110)
        plt.close(fig)
    return paths


def blocks(results: dict, figures: dict[str, str]) -> tuple[str, list]:
    """The bench document (report.render's block model)."""
    strategies, envs = results["strategies"], results["envs"]
    title = f"Bench {results['suite']}: {len(strategies)} strategies x {len(envs)} envs, {results['num_seeds']} seeds"
    out = [("h1", title),
           ("p", f"Each cell is one train run (cells/<env>/<strategy>/) with the same policy evaluations per "
                 f"generation ({results['evaluations_per_generation']}) and the same generations per env for every "
                 "strategy, early_stop=false. Normalised score: 0 = mean validated return of the initial policies, "
                 "1 = the env's solve threshold. Intervals: 95 % stratified bootstrap CIs (rliable, "
                 f"{results['bootstrap']['reps']} reps, seed {results['bootstrap']['seed']}); docs/bench.md.")]
    out += [("p", "warning: " + w) for w in results["warnings"]]
    agg = results["aggregates"]
    out += [("h2", "Aggregates over envs (normalised score)"),
            ("table", ["strategy", *METRICS], [[s, *(_ci(agg[s][m]) for m in METRICS)] for s in strategies])]
    if results["probability_of_improvement"]:
        out += [("h2", f"Probability of improvement of {results['reference']}"),
                ("table", ["pair (X, Y)", "P(X > Y) [95 % CI]"],
                 [[k.replace(",", " vs "), _ci(v)] for k, v in results["probability_of_improvement"].items()])]
    norm = results["normalisation"]
    out += [("h2", "Normalisation per env"),
            ("table", ["env", "zero (initial policies)", "one (solve threshold)"],
             [[e, fmt(norm[e]["zero"], 4), fmt(norm[e]["one"], 4)] for e in envs])]
    headers = ["strategy", "solved [Wilson 95 %]", "evals to first solve", "final return", "score",
               "Vendi actions", "Vendi traj.", "behaviours", "behaviours solving", "wall s"]
    for env in envs:
        rows = []
        for s in strategies:
            c = results["cells"][env][s]
            t = c["summary"]
            lo, hi = t["solve_rate_ci"]
            first = t["evaluations_to_first_solve"]
            rows.append([("link", s, os.path.join(c["run_dir"], "report", "index.html")),
                         f"{t['solved']}/{t['num_seeds']} [{fmt(lo, 2)}, {fmt(hi, 2)}]",
                         f"{fmt_stats(first)} ({first['n']}/{t['num_seeds']})", fmt_stats(t["best_return"], 4),
                         fmt_stats(t["score"]), fmt(t["vendi_actions"]), fmt(t["vendi_trajectories"]),
                         fmt(t["behaviours"]), fmt(t["behaviours_solving"]), fmt(t["wall_time_s"])])
        out += [("h2", f"{env}"), ("table", headers, rows)]
        qd = {s: results["cells"][env][s]["summary"].get("qd") for s in strategies}
        if any(qd.values()):
            out += [("p", f"{env}, quality-diversity (final per-seed archives, docs/qd.md):"),
                    ("table", ["strategy", "QD-score", "coverage %", "max fitness", "solving cells"],
                     [[s, *(_ci(q[k], 4) if q and q[k] else "-" for k in QD_KEYS)] for s, q in qd.items()])]
    out += [("p", "Per-env columns: solved = validated best policy reaches the threshold (k/n seeds, Wilson 95 % "
                  "interval); evaluations to first solve = first generation whose best training return reached the "
                  "threshold x evaluations per generation, median [IQR] over the seeds that got there; final return "
                  "and score: validated best return, median [IQR]; diversity: medians over seeds of the report's "
                  "metrics (docs/report.md); wall s: the train run (compile included). Quality-diversity: the final "
                  "per-seed archive's QD-score (QDax's offset convention), coverage, max fitness and cells at or above "
                  "the solve threshold, mean [95 % bootstrap CI] over seeds.")]
    if figures:
        out.append(("h2", "Figures"))
        out += [("img", os.path.basename(p), CAPTIONS[k]) for k, p in figures.items()]
    return title, out


def write_documents(results: dict, out_dir: str, figures: dict[str, str]) -> list[str]:
    title, doc = blocks(results, figures)
    paths = []
    for name, text in (("index.html", to_html(title, doc)), ("table.md", to_markdown(doc))):
        path = os.path.join(out_dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        paths.append(path)
    return paths
