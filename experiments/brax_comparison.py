"""Brax comparison at equal evaluation budgets: SV-CMA-ES (parameter kernel), SV-CMA-ES (action
kernel), MP-CMA-ES, CMA-ES (our main job) and OpenAI-ES (Brax's own trainer, brax.training.agents.es).

    python experiments/brax_comparison.py                      # CPU settings (below)
    python experiments/brax_comparison.py --envs hopper --seeds 1 --generations 3   # smoke
    python experiments/brax_comparison.py --episode-length 1000 --backend generalized \
        --particles 16 --offspring 64 --generations 80 --out experiments_out/brax_comparison_gpu  # GPU

Every method gets the same policy evaluations per generation (``--particles x --offspring``;
CMA-ES one population of that size; Brax ES ``population_size = evaluations / 2`` antithetic
pairs, i.e. the same episodes and env steps per epoch) and the same number of generations, one
episode per evaluation. Ours: one main-job run per (env, method), all seeds in one compiled
program, report on (behavioural diversity of the final particles), validated return of the
exported best policy (``--validation-episodes`` fresh episodes). Brax ES: its default network
(4 x 32 ReLU, tanh-Gaussian head, deterministic evaluation), observation normalisation, default
learning rate and perturbation std; its eval return (mean policy, ``--validation-episodes``
episodes) at the same env steps. Wall time per generation: ours from the times at which each
chunk's metrics appear (first chunk, which compiles, excluded); Brax ES from its own epoch timing.

Outputs (``--out``, default experiments_out/brax_comparison/): run directories
``<env>/<method>/``, ``brax_es_<env>.json``, ``brax_comparison.json`` (rewritten after every run,
so partial results survive) and ``brax_comparison.md``; learning-curve figure
``docs/figures/brax/brax_comparison_curves.png`` (``--figures``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

METHODS = ("sv_cma_es", "sv_cma_es_actions", "mp_cma_es", "cma_es", "brax_es")
LABELS = {"sv_cma_es": "SV-CMA-ES (parameters)", "sv_cma_es_actions": "SV-CMA-ES (actions)",
          "mp_cma_es": "MP-CMA-ES", "cma_es": "CMA-ES", "brax_es": "OpenAI-ES (brax.training.agents.es)"}


def method_overrides(method, a) -> list[str]:
    evals = a.particles * a.offspring
    if method == "cma_es":
        return ["strategy=cma_es", "strategy.num_particles=1", f"strategy.pop_size={evals}",
                f"strategy.sigma_init={a.sigma}"]
    name = "mp_cma_es" if method == "mp_cma_es" else "sv_cma_es"
    out = [f"strategy={name}", f"strategy.num_particles={a.particles}", f"strategy.pop_size={a.offspring}",
           f"strategy.sigma_init={a.sigma}"]
    return out + (["strategy.kernel_space=actions"] if method == "sv_cma_es_actions" else [])


class ChunkClock:
    """Times at which metrics.jsonl grows (one chunk of generations per append)."""

    def __init__(self, path):
        self.path, self.marks, self._stop = path, [], threading.Event()
        self._t = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        last = 0
        while not self._stop.is_set():
            try:
                with open(self.path) as f:
                    n = sum(1 for _ in f)
            except OSError:
                n = 0
            if n > last:
                self.marks.append((time.perf_counter(), n))
                last = n
            time.sleep(0.05)

    def __enter__(self):
        self.t0 = time.perf_counter()
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def seconds_per_generation(self, seeds):
        """Median wall time per generation over the chunks after the first (compile excluded)."""
        import numpy as np

        if len(self.marks) < 2:
            return None
        per = [(t1 - t0) / ((n1 - n0) / seeds) for (t0, n0), (t1, n1) in zip(self.marks, self.marks[1:])]
        return float(np.median(per))


def run_ours(env, method, a, out):
    from experiments.mountaincar_seeds import compose, train_one

    run_dir = os.path.join(out, env, method)
    overrides = [f"env={env}", f"env.kwargs.episode_length={a.episode_length}", f"env.kwargs.backend={a.backend}",
                 *method_overrides(method, a), f"seeds={a.seeds}", f"generations={a.generations}",
                 f"chunk={a.chunk}", "episodes=1", f"validation_episodes={a.validation_episodes}",
                 f"policy.hidden_sizes=[{a.hidden}]", "early_stop=false", "report=true", "progress=false",
                 "logger=none", f"out_dir={run_dir}"]
    if os.path.exists(os.path.join(run_dir, "summary.json")) and not a.force:
        summary, _ = train_one(overrides, run_dir)
        spg = None
        prior = os.path.join(run_dir, "timing.json")
        if os.path.exists(prior):
            with open(prior) as f:
                spg = json.load(f)["seconds_per_generation"]
    else:
        os.makedirs(run_dir, exist_ok=True)
        with ChunkClock(os.path.join(run_dir, "metrics.jsonl")) as clock:
            summary, _ = train_one(overrides, run_dir, force=True)
        spg = clock.seconds_per_generation(a.seeds)
        with open(os.path.join(run_dir, "timing.json"), "w") as f:
            json.dump({"seconds_per_generation": spg}, f)
    from policysearch.report import load_or_analyse
    from policysearch.report.analysis import metrics_by_seed, read_metrics

    analysis = load_or_analyse(run_dir)
    agg = analysis["aggregate"]
    curves = metrics_by_seed(read_metrics(run_dir))
    import numpy as np

    best = np.array([s["best_return"] for s in summary["seeds"]], float)
    med = lambda k: (agg.get(k) or {}).get("median")  # noqa: E731
    gens = sorted({g for c in curves.values() for g in c["generation"]}) if curves else []
    curve = [float(np.mean([c["best_so_far"][i] for c in curves.values()])) for i in range(len(gens))]
    return {
        "method": method, "label": LABELS[method], "validated_return_mean": float(best.mean()),
        "validated_return_per_seed": best.tolist(), "env_steps_per_seed_max": a.generations * a.particles * a.offspring * a.episode_length,
        "vendi_params": med("vendi_params"), "vendi_actions": med("vendi_actions"),
        "vendi_trajectories": med("vendi_trajectories"), "behaviours": med("behaviours"),
        "seconds_per_generation": spg, "wall_time_s": summary.get("wall_time_s"),
        "curve_generations": gens, "curve_best_so_far_mean": curve,
        "repulsion_ratio_median": _median_metric(run_dir, "repulsion_ratio"),
    }


def _median_metric(run_dir, key):
    import numpy as np

    vals = []
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if key in r:
                vals.append(r[key])
    return float(np.median(vals)) if vals else None


def run_brax_es(env_name, a, out):
    path = os.path.join(out, f"brax_es_{env_name}.json")
    if os.path.exists(path) and not a.force:
        with open(path) as f:
            return json.load(f)
    import numpy as np
    from brax.training.agents.es import train as es

    from envs import brax_adapter

    evals = a.particles * a.offspring
    steps = a.generations * evals * a.episode_length
    results, epochs = [], []
    for seed in range(a.seeds):
        env = brax_adapter.brax_envs.get_environment(env_name, backend=a.backend)
        curve, times = [], []
        t0 = time.perf_counter()

        def progress(step, metrics, curve=curve, times=times):
            curve.append((int(step), float(metrics["eval/episode_reward"])))
            times.append(time.perf_counter())
            if "training/walltime" in metrics:
                epochs.append(float(metrics.get("training/sps", 0.0)))

        _, params, metrics = es.train(
            env, num_timesteps=steps, episode_length=a.episode_length, population_size=evals // 2,
            num_eval_envs=a.validation_episodes, seed=seed, normalize_observations=True,
            num_evals=a.brax_evals, deterministic_eval=True, progress_fn=progress)
        wall = time.perf_counter() - t0
        sps = [e for e in epochs if e > 0]
        results.append({"seed": seed, "eval_return": curve[-1][1], "curve": curve, "wall_time_s": wall,
                        "env_steps": curve[-1][0],
                        "seconds_per_generation": (evals * a.episode_length / float(np.median(sps))) if sps else None})
    row = {"method": "brax_es", "label": LABELS["brax_es"],
           "validated_return_mean": float(np.mean([r["eval_return"] for r in results])),
           "validated_return_per_seed": [r["eval_return"] for r in results],
           "env_steps_per_seed_max": steps,
           "seconds_per_generation": float(np.median([r["seconds_per_generation"] for r in results
                                                     if r["seconds_per_generation"]])) if any(
               r["seconds_per_generation"] for r in results) else None,
           "wall_time_s": float(sum(r["wall_time_s"] for r in results)), "per_seed": results,
           "vendi_params": None, "vendi_actions": None, "vendi_trajectories": None, "behaviours": None}
    with open(path, "w") as f:
        json.dump(row, f, indent=2)
    return row


def _f(v, nd=1):
    return "–" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def _per_seed_generation(row):
    """Seconds per generation of one seed: ours run all seeds in one program, Brax ES one seed."""
    spg = row["seconds_per_generation"]
    if spg is None or row["method"] == "brax_es":
        return spg
    return spg / len(row["validated_return_per_seed"])


def markdown(res, a, cmd, date, wall):
    took = f"{wall / 60:.1f} min for this invocation " if wall else ""
    lines = [f"Command: `{cmd}` (date {date}; {took}on the 2-core CPU machine, no GPU).", "",
             f"Per generation: {a.particles * a.offspring} policy evaluations of one {a.episode_length}-step episode "
             f"(SV/MP-CMA-ES {a.particles} x {a.offspring}, CMA-ES 1 x {a.particles * a.offspring}, Brax ES "
             f"population {a.particles * a.offspring // 2} antithetic pairs); {a.generations} generations; "
             f"{a.seeds} seeds; backend {a.backend}; our MLP hidden {a.hidden} (tanh), observation normalisation. "
             "*return*: ours = validated return of the exported best policy "
             f"({a.validation_episodes} fresh episodes), Brax ES = its eval return of the final mean policy "
             f"({a.validation_episodes} episodes); mean over seeds [per seed]. Diversity: medians over seeds of "
             "the report's Vendi scores of the final particles (parameters, actions at probe observations, "
             "trajectories) and its number of distinct behaviours. *rep. ratio*: median over generations and "
             "seeds of the repulsion step / a CMA mean step under random selection (before the cap). "
             "*s/seed-gen*: median wall time per generation after compilation, per seed (ours advance all "
             f"{a.seeds} seeds together in one compiled program: its time per generation / {a.seeds}; Brax ES "
             "trains one seed per `train` call: its own epoch time). *run wall s*: the whole run of all seeds "
             "(ours: one process with compilation, validation and the report; Brax ES: the sum of its "
             "per-seed `train` calls, compilation included).", ""]
    for env, rows in res.items():
        lines += [f"**{env}**", "", "| method | return | Vendi params | Vendi actions | Vendi traj. | behaviours | rep. ratio | s/seed-gen | run wall s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            per = ", ".join(f"{v:.0f}" for v in r["validated_return_per_seed"])
            lines.append(f"| {r['label']} | {r['validated_return_mean']:.1f} [{per}] | {_f(r['vendi_params'], 2)} | "
                         f"{_f(r['vendi_actions'], 2)} | {_f(r['vendi_trajectories'], 2)} | {_f(r['behaviours'])} | "
                         f"{_f(r.get('repulsion_ratio_median'), 3)} | {_f(_per_seed_generation(r), 3)} | "
                         f"{_f(r['wall_time_s'], 0)} |")
        lines.append("")
    return "\n".join(lines)


def figure(res, path, a):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(res), figsize=(4.5 * len(res), 3.4), squeeze=False)
    for ax, (env, rows) in zip(axes[0], res.items()):
        for r in rows:
            if r["method"] == "brax_es":
                import numpy as np

                per = r["per_seed"]
                xs = [s / (a.particles * a.offspring * a.episode_length) for s, _ in per[0]["curve"]]
                ys = np.mean([[v for _, v in p["curve"]] for p in per], axis=0)
                ax.plot(xs, ys, "k--", marker="o", ms=3, label=r["label"] + " (eval)")
            else:
                ax.plot(r["curve_generations"], r["curve_best_so_far_mean"], label=r["label"] + " (train best)")
        ax.set_title(env)
        ax.set_xlabel("generation (equal evaluations)")
        ax.set_ylabel("return")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=90)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", nargs="+", default=["hopper", "walker2d", "halfcheetah"])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--generations", type=int, default=50)
    p.add_argument("--particles", type=int, default=8)
    p.add_argument("--offspring", type=int, default=8)
    p.add_argument("--sigma", type=float, default=0.5)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--chunk", type=int, default=5)
    p.add_argument("--episode-length", type=int, default=100,
                   help="episode length of every method (CPU: 100; GPU: 1000, e.g. with --backend generalized)")
    p.add_argument("--backend", default="spring", help="Brax physics backend of every method")
    p.add_argument("--validation-episodes", type=int, default=16)
    p.add_argument("--brax-evals", type=int, default=7)
    p.add_argument("--out", default=os.path.join(ROOT, "experiments_out", "brax_comparison"))
    p.add_argument("--figures", default=os.path.join(ROOT, "docs", "figures", "brax"))
    p.add_argument("--force", action="store_true")
    p.add_argument("--render-only", action="store_true",
                   help="write the table and figure from --out/brax_comparison.json (e.g. of an unfinished run)")
    a = p.parse_args(argv)
    for k in ("seeds", "generations", "particles", "offspring", "chunk", "episode_length", "validation_episodes"):
        if getattr(a, k) < 1:
            raise SystemExit(f"error: --{k.replace('_', '-')}={getattr(a, k)} is invalid: must be >= 1")
    if (a.particles * a.offspring) % 2:
        raise SystemExit("error: --particles x --offspring must be even (Brax ES uses antithetic pairs)")
    os.environ.setdefault("MPLBACKEND", "Agg")
    from policysearch import compile_cache

    compile_cache.enable()
    cmd = "python experiments/brax_comparison.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if a.render_only:
        with open(os.path.join(a.out, "brax_comparison.json")) as f:
            saved = json.load(f)
        md = markdown(saved["results"], a, saved["command"].strip(), datetime.date.today().isoformat(), 0.0)
        with open(os.path.join(a.out, "brax_comparison.md"), "w") as f:
            f.write(md)
        figure(saved["results"], os.path.join(a.figures, "brax_comparison_curves.png"), a)
        print(md)
        return 0
    t0 = time.perf_counter()
    res = {}
    for env in a.envs:
        res[env] = []
        for m in a.methods:
            print(f"{env}/{m} (elapsed {time.perf_counter() - t0:.0f} s)", flush=True)
            row = run_brax_es(env, a, a.out) if m == "brax_es" else run_ours(env, m, a, a.out)
            res[env].append(row)
            print(f"{env}/{m}: return {row['validated_return_mean']:.1f}, s/gen {row['seconds_per_generation']}",
                  flush=True)
            with open(os.path.join(a.out, "brax_comparison.json"), "w") as f:
                json.dump({"command": cmd, "results": res}, f, indent=2)
    wall = time.perf_counter() - t0
    md = markdown(res, a, cmd.strip(), datetime.date.today().isoformat(), wall)
    with open(os.path.join(a.out, "brax_comparison.md"), "w") as f:
        f.write(md)
    figure(res, os.path.join(a.figures, "brax_comparison_curves.png"), a)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
