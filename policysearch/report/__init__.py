"""Reports of training runs: per-seed outcomes, diversity metrics, figures, HTML and Markdown.

    from policysearch.report import write_report, compare_runs, wandb_metrics
    paths = write_report(run_dir)            # run_dir/report/{index.html, report.md, diversity.json, *.png}
    paths = compare_runs([dir_a, dir_b], out_dir)   # side-by-side comparison of several runs
    metrics = wandb_metrics(run_dir)         # flat {"report/...": number} for W&B

CLI: ``python -m policysearch.report RUN_DIR [RUN_DIR ...] [--out DIR]``.

Metric definitions: :mod:`policysearch.report.diversity` (and docs/report.md).
"""

from __future__ import annotations

import json
import os

from . import diversity  # noqa: F401  (re-exported module)
from .render import fmt, fmt_stats, to_html, to_markdown

__all__ = ["analyse_run", "compare_runs", "diversity", "load_or_analyse", "wandb_metrics", "write_report"]

REPORT_DIR = "report"
DIVERSITY_FILE = "diversity.json"


def analyse_run(run_dir, **kw) -> dict:
    from .analysis import analyse_run as _analyse

    return _analyse(run_dir, **kw)


def _public(analysis: dict) -> dict:
    return {k: v for k, v in analysis.items() if not k.startswith("_")}


def _write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------
FIGURE_CAPTIONS = {
    "learning_curves": "Learning curves per seed: best return so far (black), best (blue) and median "
                       "(orange) return of each generation vs policy evaluations; dashed green: solve "
                       "threshold; dotted green: first generation whose best return reached it.",
    "phase_plane": "Every final particle's trajectory from the first shared initial state, per seed, "
                   "in the plane of the first two observations (position, velocity for MountainCar); "
                   "colour = behaviour cluster, dot = end of episode, black dashed = best policy "
                   "(triangle = start), dotted green = goal.",
    "observation_vs_time": "First observation (position for MountainCar) vs time step for every final "
                           "particle, first shared initial state; colours as in the phase plane.",
    "outcomes": "Per-seed outcomes and diversity across seeds (each row shaded on its own scale; "
                "darker = larger, for the first solved generation darker = earlier).",
    "archive_maps": "QD archive of every seed: elite training return per cell over the behaviour "
                    "descriptor (blank = empty cell; white x = the elite reaches the solve threshold).",
    "qd_curves": "QD score (sum of elite return + QD offset over filled cells) and coverage (% of cells "
                 "filled) of every seed's archive vs policy evaluations.",
    "particle_returns": "Mean return of every final particle on the shared initial states "
                        "(rows = seeds, particles sorted by return; \u2713 = reaches the solve threshold, "
                        "red line on the colour bar).",
}


def _seed_table(data) -> tuple[list, list]:
    backends = data.get("evaluation_backends", [])
    headers = ["seed", "solved", "first solve gen", "evals to solve", "best return"]
    headers += [f"eval {b} (mean)" for b in backends]
    headers += ["particles solving", "param dist mean", "param dist min", "Vendi params",
                "Vendi actions", "DvD logdet", "Vendi traj.", "behaviours", "behaviours solving"]
    rows = []
    n = data["num_particles"]
    for s in data["seeds"]:
        row = [s["seed"], "yes" if s["solved"] else "no", fmt(s["first_solved_generation"]),
               fmt(s["evaluations_to_solve"]), fmt(s["best_return"], 4)]
        row += [fmt(s.get(f"eval_{b}_mean"), 4) for b in backends]
        row += [f"{s['particles_solving']}/{n}", fmt(s.get("params_mean_pairwise")),
                fmt(s.get("params_min_pairwise")), fmt(s.get("vendi_params")), fmt(s.get("vendi_actions")),
                fmt(s.get("dvd_logdet_actions")), fmt(s.get("vendi_trajectories")), fmt(s.get("behaviours")),
                fmt(s.get("behaviours_solving"))]
        rows.append(row)
    return headers, rows


def _summary_rows(data) -> list:
    agg = data["aggregate"]
    n = agg["num_seeds"]
    rows = [
        ["solved (validated best policy)", f"{agg['solved_count']}/{n}"],
        ["first solved generation, median [IQR] (seeds that solved in training)",
         f"{fmt_stats(agg['first_solved_generation'])} ({agg['first_solved_count']}/{n})"],
        ["evaluations to solve, median [IQR]", fmt_stats(agg["evaluations_to_solve"])],
        ["best return (validated), median [IQR]", fmt_stats(agg["best_return"], 4)],
    ]
    for b in data.get("evaluation_backends", []):
        rows.append([f"evaluation ({b}) mean return, median [IQR]", fmt_stats(agg.get(f"eval_{b}_mean"), 4)])
    labels = (
        ("particles_solving_fraction", "fraction of particles solving"),
        ("params_mean_pairwise", "parameter distance, mean pairwise"),
        ("params_min_pairwise", "parameter distance, min pairwise"),
        ("vendi_params", "Vendi score, parameters"),
        ("vendi_actions", "Vendi score, actions on probe states"),
        ("dvd_logdet_actions", "DvD log det, actions"),
        ("vendi_trajectories", "Vendi score, trajectories"),
        ("behaviours", "distinct behaviours (clusters)"),
        ("behaviours_solving", "distinct behaviours among the particles that solve"),
    )
    for key, label in labels:
        st = agg.get(key)
        if st and st.get("median") is not None:
            extra = f" (mean {fmt(st['mean'])} ± {fmt(st['std'])})" if st["n"] > 1 else ""
            rows.append([f"{label}, median [IQR]", fmt_stats(st) + extra])
    return rows


def _qd_blocks(data) -> list:
    """The QD archive's section: descriptor, cells, per-seed metrics (QDax's definitions)."""
    qd = data["qd"]
    dims = ", ".join(f"{n} in [{fmt(lo, 4)}, {fmt(hi, 4)}]" for n, lo, hi in
                     zip(qd["descriptor_names"], qd["descriptor_low"], qd["descriptor_high"]))
    rows = [[s["seed"], fmt(s.get("qd_score"), 5), fmt(s.get("coverage")), fmt(s.get("max_fitness"), 4),
             fmt(s.get("solving_cells"))] for s in data["seeds"]]
    return [("h2", "Quality-diversity archive"),
            ("p", f"Every evaluated policy in a per-seed MAP-Elites archive of {qd['cells']} cells over the "
                  f"behaviour descriptor ({dims}); QD offset {fmt(qd['qd_offset'], 5)}. Solving cells = "
                  "distinct solving behaviours: cells whose elite's training return reaches the threshold."),
            ("table", ["seed", "QD score", "coverage %", "max fitness", "solving cells"], rows)]


def _rules_items(data) -> list[str]:
    return [f"{k.replace('_', ' ')}: {v}" for k, v in data["rules"].items()]


def run_document(data: dict, figures: dict[str, str]) -> tuple[str, list]:
    title = f"{data['strategy']} on {data['env']}"
    n = data["num_particles"]
    intro = (f"Run directory: {data['run_dir']}. Solve threshold {fmt(data['solve_threshold'], 4)}; "
             f"{len(data['seeds'])} seeds; {n} final particle{'s' if n != 1 else ''} of "
             f"{data['num_params']} parameters per seed; generations run: {fmt(data.get('generations_run'))}; "
             f"wall time: {fmt(data.get('wall_time_s'))} s. Trajectories and particle returns use "
             f"{data['report_episodes']} shared initial states; probe states: {data['probe_states']}.")
    blocks = [("h1", title), ("p", intro), ("h2", "Across seeds"),
              ("table", ["", "value"], _summary_rows(data)),
              ("h2", "Per seed"), ("table", *_seed_table(data)), ("h2", "Figures")]
    if data.get("qd"):
        blocks[-1:-1] = _qd_blocks(data)  # before "Figures"
    for name, path in figures.items():
        blocks.append(("img", os.path.basename(path), FIGURE_CAPTIONS.get(name, name)))
    blocks += [("h2", "How the numbers are made"), ("ul", _rules_items(data)),
               ("p", f"Machine-readable per-seed metrics: {DIVERSITY_FILE}.")]
    return title, blocks


def write_report(run_dir, out_dir=None, episodes: int | None = None, max_steps: int | None = None,
                 figures: bool = True) -> list[str]:
    """Write the report of one run directory into ``out_dir`` (default ``run_dir/report``).

    Returns the paths written: index.html, report.md, diversity.json and the PNG figures
    (``figures=False``: the same metrics without the PNGs, which cost most of the report's time).
    """
    from .analysis import REPORT_EPISODES, analyse_run as _analyse
    from .figures import write_run_figures

    out_dir = os.fspath(out_dir) if out_dir is not None else os.path.join(os.fspath(run_dir), REPORT_DIR)
    data = _analyse(run_dir, episodes=episodes or REPORT_EPISODES, max_steps=max_steps)
    os.makedirs(out_dir, exist_ok=True)
    figures = write_run_figures(data, out_dir) if figures else {}
    public = _public(data)
    paths = [_write_text(os.path.join(out_dir, DIVERSITY_FILE), json.dumps(public, indent=2) + "\n")]
    title, blocks = run_document(public, figures)
    paths.append(_write_text(os.path.join(out_dir, "index.html"), to_html(title, blocks)))
    paths.append(_write_text(os.path.join(out_dir, "report.md"), to_markdown(blocks)))
    return paths + list(figures.values())


# --------------------------------------------------------------------------------------------
# reuse, W&B
# --------------------------------------------------------------------------------------------
def _cache_fresh(run_dir, cached) -> bool:
    t = os.path.getmtime(cached)
    from .analysis import EVALUATION_FILES

    deps = [os.path.join(run_dir, p) for p in ("summary.json", "metrics.jsonl", "policies/policy.json",
                                               *EVALUATION_FILES)]
    return all(not os.path.exists(p) or os.path.getmtime(p) <= t for p in deps)


def load_or_analyse(run_dir, write: bool = True, figures: bool = True) -> dict:
    """The JSON-able analysis of a run: report/diversity.json when it is newer than the run's
    files, else computed again (and, with ``write``, the run's report rewritten, with or without
    its ``figures``)."""
    run_dir = os.fspath(run_dir)
    cached = os.path.join(run_dir, REPORT_DIR, DIVERSITY_FILE)
    if os.path.exists(cached) and _cache_fresh(run_dir, cached):
        with open(cached) as f:
            return json.load(f)
    if write:
        try:
            write_report(run_dir, figures=figures)
            with open(cached) as f:
                return json.load(f)
        except OSError:
            pass
    return _public(analyse_run(run_dir))


WANDB_SEED_KEYS = (
    "solved", "first_solved_generation", "evaluations_to_solve", "best_return", "particles_solving",
    "params_mean_pairwise", "params_min_pairwise", "vendi_params", "vendi_actions", "dvd_logdet_actions",
    "vendi_trajectories", "behaviours", "behaviours_solving",
    "qd_score", "coverage", "max_fitness", "solving_cells",
)


def wandb_metrics(run_dir_or_data) -> dict[str, float]:
    """Flat ``{"report/...": number}`` of a run's report, for W&B (``run.summary.update``).

    Accepts a run directory (reads report/diversity.json; {} when there is none) or the analysis
    dict. Keys: ``report/solved_fraction``, ``report/solved_count``, ``report/num_seeds``,
    ``report/<metric>/median|q25|q75|mean|std`` across seeds, ``report/seed<s>/<metric>``.
    None values are left out.
    """
    data = run_dir_or_data
    if not isinstance(data, dict):
        path = os.path.join(os.fspath(data), REPORT_DIR, DIVERSITY_FILE)
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            data = json.load(f)
    agg = data["aggregate"]
    out: dict[str, float] = {
        "report/solved_fraction": float(agg["solved_fraction"]),
        "report/solved_count": int(agg["solved_count"]),
        "report/num_seeds": int(agg["num_seeds"]),
    }
    for key, st in agg.items():
        if isinstance(st, dict):
            for q in ("median", "q25", "q75", "mean", "std"):
                if st.get(q) is not None:
                    out[f"report/{key}/{q}"] = float(st[q])
    for s in data["seeds"]:
        for key in WANDB_SEED_KEYS:
            v = s.get(key)
            if v is not None:
                out[f"report/seed{s['seed']}/{key}"] = int(v) if isinstance(v, bool) else v
    return out


# --------------------------------------------------------------------------------------------
# several runs
# --------------------------------------------------------------------------------------------
def _labels(datas, run_dirs) -> list[str]:
    base = [str(d.get("strategy") or "run") for d in datas]
    labels = []
    for b, d in zip(base, run_dirs):
        name = os.path.basename(os.path.normpath(d))
        labels.append(f"{b} ({name})" if base.count(b) > 1 else b)
    return labels


def compare_runs(run_dirs, out_dir="report_compare") -> list[str]:
    """Side-by-side report of several run directories in ``out_dir`` (index.html, report.md,
    comparison.json and PNGs). Each run's own report is (re)written when it is missing or stale."""
    from .analysis import metrics_by_seed, read_metrics
    from .figures import compare_curves, compare_diversity, compare_seeds

    run_dirs = [os.fspath(d) for d in run_dirs]
    if not run_dirs:
        raise ValueError("compare_runs needs at least one run directory")
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    datas = [load_or_analyse(d) for d in run_dirs]
    labels = _labels(datas, run_dirs)
    runs = [{"label": lbl, "data": d, "run_dir": rd, "curves": metrics_by_seed(read_metrics(rd)),
             "solve_threshold": d["solve_threshold"]} for lbl, d, rd in zip(labels, datas, run_dirs)]

    figures = {
        "compare_curves": compare_curves(runs, os.path.join(out_dir, "compare_curves.png")),
        "compare_seeds": compare_seeds(runs, os.path.join(out_dir, "compare_seeds.png")),
        "compare_diversity": compare_diversity(runs, os.path.join(out_dir, "compare_diversity.png")),
    }
    headers = ["run", "strategy", "env", "particles", "solved", "first solve gen (median [IQR])",
               "evals to solve (median [IQR])", "best return (median [IQR])", "particles solving",
               "Vendi params", "Vendi actions", "Vendi traj.", "behaviours"]
    rows = []
    for run in runs:
        d, agg = run["data"], run["data"]["aggregate"]
        report_index = os.path.join(run["run_dir"], REPORT_DIR, "index.html")
        link = ("link", run["label"], os.path.relpath(report_index, out_dir)) if os.path.exists(report_index) \
            else run["label"]
        rows.append([
            link, d["strategy"], d["env"], d["num_particles"], f"{agg['solved_count']}/{agg['num_seeds']}",
            f"{fmt_stats(agg['first_solved_generation'])} ({agg['first_solved_count']}/{agg['num_seeds']})",
            fmt_stats(agg["evaluations_to_solve"]), fmt_stats(agg["best_return"], 4),
            fmt_stats(agg["particles_solving_fraction"]), fmt_stats(agg["vendi_params"]),
            fmt_stats(agg["vendi_actions"]), fmt_stats(agg["vendi_trajectories"]), fmt_stats(agg["behaviours"]),
        ])
    captions = {
        "compare_curves": "Best return so far vs policy evaluations: median over seeds (line) and 25-75 % "
                          "band, one colour per run; dashed: solve threshold.",
        "compare_seeds": "Per-seed outcomes: first generation whose best return reached the threshold "
                         "(grey/-: never); \u2713: the validated best policy is solved.",
        "compare_diversity": "Diversity of the final particles per run: dots = seeds, bars = median. "
                             "Behavioural Vendi scores use fixed bandwidths and are comparable across runs; "
                             "the parameter Vendi score uses the median heuristic (scale-free).",
    }
    title = f"Comparison of {len(runs)} runs"
    blocks = [("h1", title),
              ("p", "Runs: " + "; ".join(f"{r['label']}: {os.path.abspath(r['run_dir'])}" for r in runs)),
              ("p", "Cells with spread show the median over seeds and [25 %, 75 %] quantiles. Solved = the "
                    "validated best policy reaches the threshold; first solve generation = first generation "
                    "whose best return reached it during training (seeds that did / all seeds)."),
              ("table", headers, rows), ("h2", "Figures")]
    for name, path in figures.items():
        blocks.append(("img", os.path.basename(path), captions[name]))
    blocks += [("h2", "How the numbers are made"), ("ul", _rules_items(datas[0]))]
    comparison = {"runs": [{"label": r["label"], "run_dir": os.path.abspath(r["run_dir"]),
                            "strategy": r["data"]["strategy"], "env": r["data"]["env"],
                            "aggregate": r["data"]["aggregate"]} for r in runs]}
    paths = [_write_text(os.path.join(out_dir, "comparison.json"), json.dumps(comparison, indent=2) + "\n"),
             _write_text(os.path.join(out_dir, "index.html"), to_html(title, blocks)),
             _write_text(os.path.join(out_dir, "report.md"), to_markdown(blocks))]
    return paths + list(figures.values())

