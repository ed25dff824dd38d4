"""MountainCar seeds experiment: SV-CMA-ES vs CMA-ES vs kernel-free multi-population CMA-ES vs SVGD.

One command (from the repository root, package installed with ``pip install -e .``)::

    python experiments/mountaincar_seeds.py            # full experiment (29 min measured on the shared 2-core box)
    python experiments/mountaincar_seeds.py --quick    # smoke run: 3 seeds, 3 generations, tiny

Every (regime, strategy) pair is one run of the main job (``policysearch.train.run``, composed
from configs/ with Hydra overrides exactly as ``python -m policysearch.train`` would), all seeds
in one compiled program, no early stop, with its own report; the four runs of a regime are then
compared with ``policysearch.report.compare_runs``. At an equal evaluation budget per generation:

* ``sv_cma_es``  SV-CMA-ES, P particles x M offspring (median-heuristic kernel, config defaults)
* ``sv_cma_es_actions``  the same with the function-space kernel (``strategy.kernel_space=actions``)
* ``sv_cma_es_actions_a2``  (optional, ``--strategies``) the action kernel with alpha = 2 instead of 16
* ``sv_cma_es_bw1``  (optional) the parameter kernel with Liu & Wang's bandwidth (scale 1, not 0.7)
* ``mp_cma_es``  the same P x M layout without the kernel (gamma = 0: P independent CMA-ES runs)
* ``cma_es``     one CMA-ES population of P*M offspring
* ``svgd``       SVGD with ES (antithetic Gaussian smoothing) gradient estimates, P x M samples

Regimes (``REGIMES``): ``reference`` is the REFERENCE.md setting (MLP 2-16-1, 4 episodes per
evaluation, initial sigma 0.5, 16 x 16 = 256 evaluations per generation); ``hard`` keeps the
budget and layout but uses a small initial step size (0.1) and a single episode per evaluation;
``small_sigma`` (not run by default: ``--regimes small_sigma``) changes the step size alone.
The stronger control penalty of the paper's slides needs an environment option that envs/ does
not have (the reward's -0.1 a^2 is fixed), so no regime uses it.

Outputs (``--out``, default experiments_out/mountaincar_seeds/):
  <regime>/<strategy>/            run directories (summary.json, metrics.jsonl, report/, ...)
  <regime>/compare/               compare_runs report (index.html, report.md, PNGs)
  mountaincar_seeds.md            the Markdown tables (pasted into RESULTS.md)
  mountaincar_seeds.json          the same numbers, machine-readable
and the comparison figures copied to ``--figures`` (default docs/figures/mountaincar/; with
``--quick``: <out>/figures/). Finished runs with the same settings are reused (use ``--force``
to run them again).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
CONFIG_DIR = os.path.join(ROOT, "configs")

STRATEGIES = ("sv_cma_es", "sv_cma_es_actions", "sv_cma_es_actions_a2", "sv_cma_es_bw1", "mp_cma_es", "cma_es", "svgd")
DEFAULT_STRATEGIES = ("sv_cma_es", "sv_cma_es_actions", "mp_cma_es", "cma_es", "svgd")
LABELS = {
    "sv_cma_es": "SV-CMA-ES",
    "sv_cma_es_actions": "SV-CMA-ES (action kernel)",
    "sv_cma_es_actions_a2": "SV-CMA-ES (action kernel, alpha 2)",
    "sv_cma_es_bw1": "SV-CMA-ES (bandwidth x1)",
    "mp_cma_es": "MP-CMA-ES (gamma = 0)",
    "cma_es": "CMA-ES (1 population)",
    "svgd": "SVGD (ES gradients)",
}
FIGURES = ("compare_curves", "compare_seeds", "compare_diversity")
EXPERIMENT_FILE = "experiment.json"  # the overrides a run directory was made with


@dataclasses.dataclass(frozen=True)
class Regime:
    name: str
    description: str
    particles: int  # P (SV-CMA-ES, MP-CMA-ES, SVGD); CMA-ES gets one population of P * M
    offspring: int  # M offspring (SVGD: antithetic samples) per particle
    sigma: float  # initial CMA-ES step size; SVGD's ES smoothing std
    episodes: int  # episodes per fitness evaluation
    generations: int
    hidden: tuple[int, ...] = (16,)
    validation_episodes: int = 100

    @property
    def evals_per_generation(self) -> int:
        return self.particles * self.offspring

    @property
    def title(self) -> str:
        eps = f"{self.episodes} episode{'s' if self.episodes != 1 else ''}"
        return (f"{self.description}: {self.particles} particles x {self.offspring} offspring "
                f"(CMA-ES: 1 x {self.evals_per_generation}), initial sigma {self.sigma}, {eps} per evaluation")


REGIMES = {
    "reference": Regime(
        "reference", "the REFERENCE.md setting",
        particles=16, offspring=16, sigma=0.5, episodes=4, generations=50),
    "hard": Regime(
        "hard", "small initial step size, noisier fitness",
        particles=16, offspring=16, sigma=0.1, episodes=1, generations=80),
    # not run by default: separates the two changes of `hard` (small sigma alone, 4 episodes)
    "small_sigma": Regime(
        "small_sigma", "small initial step size only",
        particles=16, offspring=16, sigma=0.1, episodes=4, generations=40),
}
DEFAULT_REGIMES = ("reference", "hard")


def quick_regime(r: Regime) -> Regime:
    return dataclasses.replace(r, particles=4, offspring=4, episodes=1, generations=3, hidden=(4,),
                               validation_episodes=4)


def strategy_overrides(strategy: str, r: Regime) -> list[str]:
    """Hydra overrides of one strategy in one regime (equal evaluations per generation)."""
    if strategy == "sv_cma_es_actions":
        return [*strategy_overrides("sv_cma_es", r), "strategy.kernel_space=actions"]
    if strategy == "sv_cma_es_bw1":
        return [*strategy_overrides("sv_cma_es", r), "strategy.bandwidth_scale=1.0"]
    if strategy == "sv_cma_es_actions_a2":
        return [*strategy_overrides("sv_cma_es_actions", r), "strategy.alpha=2"]
    if strategy in ("sv_cma_es", "mp_cma_es"):
        return [f"strategy={strategy}", f"strategy.num_particles={r.particles}",
                f"strategy.pop_size={r.offspring}", f"strategy.sigma_init={r.sigma}"]
    if strategy == "cma_es":
        return ["strategy=cma_es", "strategy.num_particles=1",
                f"strategy.pop_size={r.particles * r.offspring}", f"strategy.sigma_init={r.sigma}"]
    if strategy == "svgd":
        return ["strategy=svgd", f"strategy.num_particles={r.particles}", f"strategy.pop_size={r.offspring}",
                f"strategy.sigma={r.sigma}"]
    raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")


def run_overrides(strategy: str, r: Regime, seeds: int, run_dir: str) -> list[str]:
    hidden = ",".join(str(h) for h in r.hidden)
    chunk = max(1, min(10, r.generations))
    return ["env=mountaincar", *strategy_overrides(strategy, r), f"seeds={seeds}", "seed_offset=0",
            f"generations={r.generations}", f"chunk={chunk}", f"episodes={r.episodes}",
            f"validation_episodes={r.validation_episodes}", f"policy.hidden_sizes=[{hidden}]",
            "early_stop=false", "report=true", "progress=false", "logger=none", f"out_dir={run_dir}"]


def compose(overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return hydra_compose(config_name="train", overrides=list(overrides))


def train_one(overrides, run_dir, force=False, log=print) -> tuple[dict, bool]:
    """Run the main job once (or reuse a finished run made with the same overrides)."""
    from policysearch.train import run

    marker = os.path.join(run_dir, EXPERIMENT_FILE)
    if os.path.exists(os.path.join(run_dir, "summary.json")) and not force:
        saved = None
        if os.path.exists(marker):
            with open(marker) as f:
                saved = json.load(f).get("overrides")
        if saved == list(overrides):
            with open(os.path.join(run_dir, "summary.json")) as f:
                return json.load(f), True
        raise SystemExit(f"error: {run_dir} holds a finished run with other settings; "
                         "pass --force to run it again or choose another --out")
    if os.path.isdir(run_dir):
        shutil.rmtree(run_dir)  # an unfinished or forced run of this experiment: start afresh
    os.makedirs(run_dir)
    summary = run(compose(overrides), list(overrides))
    with open(marker, "w") as f:
        json.dump({"overrides": list(overrides)}, f, indent=2)
    return summary, False


# --------------------------------------------------------------------------------------------
# numbers
# --------------------------------------------------------------------------------------------
def _quantiles(values, qs=(25, 50, 75)):
    import numpy as np

    return [float(np.percentile(values, q)) for q in qs] if len(values) else [None] * len(qs)


def median_all_seeds(values, budget):
    """Median over all seeds of evaluations to first solve, unsolved seeds counted as never
    (infinity): a finite number when more than half the seeds solved, else None."""
    import numpy as np

    v = np.array([math.inf if x is None else float(x) for x in values])
    if v.size == 0:
        return None
    m = float(np.median(v))  # inf only when the middle element(s) are never-solved
    return m if math.isfinite(m) else None


def fisher_p(k1, n1, k2, n2):
    """Two-sided Fisher exact test p-value of k1/n1 vs k2/n2 solved seeds."""
    from scipy.stats import fisher_exact

    return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])[1])


def first_solve_evals(row):
    """Evaluations to the first training solve per seed, never = infinity."""
    epg = row["evaluations_per_generation"]
    return [math.inf if s["first_solved_generation"] is None else s["first_solved_generation"] * epg
            for s in row["per_seed"]]


def mannwhitney_p(a, b):
    """Two-sided Mann-Whitney U test p-value (ranks; never-solved seeds rank last, tied)."""
    import numpy as np
    from scipy.stats import mannwhitneyu

    a, b = np.asarray(a, float), np.asarray(b, float)
    if not (np.isfinite(a).any() or np.isfinite(b).any()):
        return 1.0
    big = max(np.max(a[np.isfinite(a)], initial=0), np.max(b[np.isfinite(b)], initial=0)) + 1
    a, b = np.where(np.isfinite(a), a, big), np.where(np.isfinite(b), b, big)
    if np.all(a == a[0]) and np.all(b == a[0]):
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def row_of(strategy, r: Regime, summary: dict, analysis: dict) -> dict:
    import numpy as np

    epg = summary["evaluations_per_generation"]
    seeds = summary["seeds"]
    n = len(seeds)
    evals = [None if s["first_solved_generation"] is None else s["first_solved_generation"] * epg for s in seeds]
    solving = [e for e in evals if e is not None]
    best = np.array([s["best_return"] for s in seeds], float)
    agg = analysis["aggregate"]

    def med(key):
        st = agg.get(key) or {}
        return st.get("median")

    return {
        "strategy": strategy,
        "label": LABELS[strategy],
        "layout": (f"1 x {epg}" if strategy == "cma_es" else f"{r.particles} x {r.offspring}"),
        "evaluations_per_generation": epg,
        "generations": summary["generations_run"],
        "evaluation_budget": epg * summary["generations_run"],
        "num_seeds": n,
        "solved": int(summary["solved_count"]),
        "solved_in_training": len(solving),
        "evals_to_first_solve_median_all": median_all_seeds(evals, epg * summary["generations_run"]),
        "evals_to_first_solve_solving": _quantiles(solving),
        "best_return_mean": float(best.mean()),
        "best_return_median": float(np.median(best)),
        "best_return_min": float(best.min()),
        "particles_solving_fraction": med("particles_solving_fraction"),
        "vendi_params": med("vendi_params"),
        "vendi_actions": med("vendi_actions"),
        "vendi_trajectories": med("vendi_trajectories"),
        "behaviours": med("behaviours"),
        "wall_time_s": summary.get("wall_time_s"),
        "per_seed": [{"seed": s["seed"], "solved": s["solved"], "best_return": s["best_return"],
                      "first_solved_generation": s["first_solved_generation"]} for s in seeds],
    }


def _f(v, digits=3):
    if v is None:
        return "–"
    if isinstance(v, int):
        return str(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def _evals(v):
    return "never" if v is None else f"{v:,.0f}"


def verdict(rows) -> str:
    """Which method wins in a regime: most validated solves, then fewest median evaluations."""
    def key(row):
        m = row["evals_to_first_solve_median_all"]
        return (-row["solved"], math.inf if m is None else m, -row["best_return_mean"])

    ranked = sorted(rows, key=key)
    top = ranked[0]
    ties = [r for r in ranked if r["solved"] == top["solved"]]
    if top["solved"] == 0:
        text = f"No method solved a seed (validated); highest mean final return: " \
               f"{max(rows, key=lambda r: r['best_return_mean'])['label']}"
    else:
        text = (f"Most seeds solved (validated): {', '.join(r['label'] for r in ties)} "
                f"({top['solved']}/{top['num_seeds']})")
        if len(ties) > 1 and top["evals_to_first_solve_median_all"] is not None:
            text += f"; of those, fastest to a first solve (median evaluations, all seeds): {top['label']}"
    sv = next((r for r in rows if r["strategy"] == "sv_cma_es"), None)
    if sv is not None:
        tests = [f"{r['label']} {r['solved']}/{r['num_seeds']}: p = {fisher_p(sv['solved'], sv['num_seeds'], r['solved'], r['num_seeds']):.2g}"
                 for r in rows if r is not sv]
        text += (f". SV-CMA-ES {sv['solved']}/{sv['num_seeds']} vs " + "; ".join(tests)
                 + " (two-sided Fisher exact test on validated solved seeds).")
        speed = [f"{r['label']}: p = {mannwhitney_p(first_solve_evals(sv), first_solve_evals(r)):.2g}"
                 for r in rows if r is not sv]
        text += (" Evaluations to the first training solve, SV-CMA-ES vs " + "; ".join(speed)
                 + " (two-sided Mann-Whitney U test over all seeds, never-solved seeds ranked last).")
    return text


def command_args(argv) -> list[str]:
    """The command line without the options that do not change the numbers (--date, --force)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--date":
            skip = True
        elif not (a.startswith("--date=") or a == "--force"):
            out.append(a)
    return out


def markdown(results, args, wall_s, date, figures_rel) -> str:
    cmd = " ".join(["python experiments/mountaincar_seeds.py", *command_args(args.argv)])
    n_reused = sum(res["reused"] for res in results)
    n_runs = sum(len(res["rows"]) for res in results)
    reused = f", {n_reused} of {n_runs} runs reused from an earlier invocation" if n_reused else ""
    run_sum = sum(row["wall_time_s"] or 0.0 for res in results for row in res["rows"])
    reused += f"; the runs themselves took {run_sum / 60:.1f} min in all"
    lines = [
        "## MountainCar seeds experiment",
        "",
        f"Command: `{cmd}` (date {date}; wall time {wall_s / 60:.1f} min for this invocation{reused}, "
        "shared 2-core CPU machine; the *wall s* column is each run's own training + report time).",
        "",
        "MountainCarContinuous-v0 (solved = mean return >= 90), MLP policy "
        f"2-{'-'.join(str(h) for h in results[0]['regime']['hidden'])}-1, every run one call of the main job "
        "(`policysearch.train`, all seeds in one compiled program, no early stop). Equal evaluation budget: "
        "in each regime every method gets the same policy evaluations per generation and the same number "
        "of generations; CMA-ES gets them as one population, SVGD as antithetic ES samples around each particle. "
        "Columns: *solved* = the seed's best policy (best offspring so far or a final particle, chosen on "
        f"{results[0]['regime']['validation_episodes']} fresh episodes) reaches 90 on those validation episodes; *solved in training* = some generation's best "
        "training return reached 90 (on that regime's episodes per evaluation, a noisier test); *evals to first "
        "solve* = first such generation x evaluations per generation, median over all seeds (never-solved "
        "seeds count as infinite, so \"never\" when half or more never solved) and median [IQR] over the seeds "
        "that solved; *final return* = validated best return (mean / median over seeds); diversity columns are "
        "the medians over seeds of the report's metrics of the final particles (report/diversity.json: Vendi "
        "score of parameters (median-heuristic RBF), of actions on a 9x9 probe grid and of trajectories, "
        "and the number of distinct behaviours); CMA-ES has a single particle, so its diversity is 1 by "
        "construction.",
        "",
    ]
    for res in results:
        r = res["regime"]
        rows = res["rows"]
        budget = rows[0]["evaluation_budget"]
        lines += [
            f"### Regime `{r['name']}`: {res['title']}",
            "",
            f"{rows[0]['num_seeds']} seeds (0-{rows[0]['num_seeds'] - 1}), {rows[0]['generations']} generations x "
            f"{rows[0]['evaluations_per_generation']} evaluations = {budget:,} policy evaluations per seed "
            f"({r['episodes']} episode{'s' if r['episodes'] != 1 else ''} each). "
            f"Comparison report: `{res['compare_dir']}/index.html`.",
            "",
            "| strategy | layout | solved (validated) | solved in training | evals to first solve, median (all seeds) "
            "| evals to first solve, median [IQR] (solving seeds) | final return mean / median (min) "
            "| particles solving | Vendi params | Vendi actions | Vendi traj. | behaviours | wall s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            q = row["evals_to_first_solve_solving"]
            iqr = "–" if q[1] is None else f"{_evals(q[1])} [{_evals(q[0])}, {_evals(q[2])}]"
            lines.append(
                f"| {row['label']} | {row['layout']} | {row['solved']}/{row['num_seeds']} "
                f"| {row['solved_in_training']}/{row['num_seeds']} | {_evals(row['evals_to_first_solve_median_all'])} "
                f"| {iqr} | {row['best_return_mean']:.1f} / {row['best_return_median']:.1f} "
                f"({row['best_return_min']:.1f}) | {_f(row['particles_solving_fraction'], 2)} "
                f"| {_f(row['vendi_params'])} | {_f(row['vendi_actions'])} | {_f(row['vendi_trajectories'])} "
                f"| {_f(row['behaviours'])} | {_f(row['wall_time_s'], 3)} |")
        lines += ["", verdict(rows), ""]
        figs = figures_rel.get(r["name"], {})
        if figs:
            lines.append(" ".join(f"![{r['name']} {name}]({path})" for name, path in figs.items()))
            lines.append("")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 3 seeds, 3 generations, 4 x 4 layout, MLP 2-4-1, 1 episode")
    p.add_argument("--seeds", type=int, default=None, help="seeds per run (default 20; --quick: 3)")
    p.add_argument("--generations", type=int, default=None,
                   help="generations of every run (default: per regime, reference 50, hard 80)")
    p.add_argument("--regimes", default=",".join(DEFAULT_REGIMES),
                   help=f"comma list of {', '.join(REGIMES)} (default {','.join(DEFAULT_REGIMES)})")
    p.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES),
                   help=f"comma list of {', '.join(STRATEGIES)} (default: all but the optional variants)")
    p.add_argument("--out", default=None,
                   help="output folder (default experiments_out/mountaincar_seeds[_<regimes> unless the "
                        "default regimes][_quick])")
    p.add_argument("--figures", default=None,
                   help="where to copy the comparison PNGs (default docs/figures/mountaincar; --quick: <out>/figures)")
    p.add_argument("--date", default=None, help="date written with the table (default: today)")
    p.add_argument("--force", action="store_true", help="rerun runs that already finished")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    seeds = args.seeds if args.seeds is not None else (3 if args.quick else 20)
    if seeds < 1:
        raise SystemExit("error: --seeds must be >= 1")
    regime_names = [s for s in args.regimes.split(",") if s]
    from experiments.paths import output_dirs

    default_name = "mountaincar_seeds" + ("" if tuple(regime_names) == DEFAULT_REGIMES else "_" + "_".join(regime_names))
    out, figures_dir = output_dirs(default_name, args.quick, args.out, args.figures, "mountaincar")
    regimes, strategies = [], [s for s in args.strategies.split(",") if s]
    for name in regime_names:
        if name not in REGIMES:
            raise SystemExit(f"error: unknown regime {name!r}; valid: {', '.join(REGIMES)}")
        r = quick_regime(REGIMES[name]) if args.quick else REGIMES[name]
        if args.generations is not None:
            if args.generations < 1:
                raise SystemExit("error: --generations must be >= 1")
            r = dataclasses.replace(r, generations=args.generations)
        regimes.append(r)
    for s in strategies:
        if s not in STRATEGIES:
            raise SystemExit(f"error: unknown strategy {s!r}; valid: {', '.join(STRATEGIES)}")
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("WANDB_MODE", "disabled")

    from policysearch.report import compare_runs, load_or_analyse

    total = len(regimes) * len(strategies)
    print(f"MountainCar seeds experiment: {len(regimes)} regime(s) x {len(strategies)} strategies x "
          f"{seeds} seeds -> {out}", flush=True)
    results, figures_rel, k = [], {}, 0
    for r in regimes:
        run_dirs, rows, reused_count = [], [], 0
        for s in strategies:
            k += 1
            run_dir = os.path.join(out, r.name, s)
            overrides = run_overrides(s, r, seeds, run_dir)
            print(f"[{k}/{total}] {r.name}/{s}: {r.generations} generations x {r.evals_per_generation} "
                  f"evaluations x {r.episodes} episode(s), {seeds} seeds "
                  f"(elapsed {time.perf_counter() - t0:.0f} s)", flush=True)
            t_run = time.perf_counter()
            summary, reused = train_one(overrides, run_dir, force=args.force)
            reused_count += int(reused)
            if summary["evaluations_per_generation"] != r.evals_per_generation:
                raise RuntimeError(f"{s}: {summary['evaluations_per_generation']} evaluations per generation, "
                                   f"expected {r.evals_per_generation} (unequal budget)")
            analysis = load_or_analyse(run_dir)
            row = row_of(s, r, summary, analysis)
            rows.append(row)
            run_dirs.append(run_dir)
            print(f"[{k}/{total}] {r.name}/{s}: {'reused' if reused else 'done'} in "
                  f"{time.perf_counter() - t_run:.0f} s: solved {row['solved']}/{row['num_seeds']} (validated), "
                  f"{row['solved_in_training']}/{row['num_seeds']} in training, median final return "
                  f"{row['best_return_median']:.1f}", flush=True)
        compare_dir = os.path.join(out, r.name, "compare")
        paths = compare_runs(run_dirs, compare_dir)
        os.makedirs(figures_dir, exist_ok=True)
        figures_rel[r.name] = {}
        for p in paths:
            name = os.path.splitext(os.path.basename(p))[0]
            if name in FIGURES:
                dest = os.path.join(figures_dir, f"{r.name}_{name}.png")
                shutil.copyfile(p, dest)
                figures_rel[r.name][name] = os.path.relpath(dest, ROOT)
        results.append({"regime": dataclasses.asdict(r), "title": r.title, "rows": rows, "reused": reused_count,
                        "compare_dir": os.path.relpath(compare_dir, ROOT)})
        print(f"{r.name}: {verdict(rows)}", flush=True)

    wall = time.perf_counter() - t0
    date = args.date or datetime.date.today().isoformat()
    md = markdown(results, args, wall, date, figures_rel)
    with open(os.path.join(out, "mountaincar_seeds.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "mountaincar_seeds.json"), "w") as f:
        json.dump({"date": date, "command": ["python", "experiments/mountaincar_seeds.py", *command_args(args.argv)],
                   "seeds": seeds, "wall_time_s": wall, "regimes": results, "figures": figures_rel}, f, indent=2)
    print(md)
    print(f"wrote {os.path.join(out, 'mountaincar_seeds.md')} ({wall / 60:.1f} min)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
