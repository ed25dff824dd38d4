"""Quality-diversity comparison: QDax's MAP-Elites and CMA-ME against our strategies' archives.

    python experiments/qd_comparison.py                    # CPU defaults: pointmaze, hopper_uni
    python experiments/qd_comparison.py --quick             # smoke run (2 seeds, tiny budgets)
    python experiments/qd_comparison.py --gpu               # GPU: pointmaze + QDax's four tasks

Equal footing for every method on a task: the same evaluations per seed (``--batch`` per
iteration/generation, QDax's examples use 100, times ``--iterations``; QDax's initial batch
counts as the first iteration), the same policy network (``MLPPolicy``, flat parameter vectors
are QDax's genotypes, Flax's default initialisation for QDax's initial batch and our particles),
the same rollout (QDax's scoring function IS ``policysearch.rollout.make_population_evaluator``:
fitness and descriptor identical by construction; one episode per evaluation, a fresh initial
state per iteration shared by the batch), the same cells (``policysearch.qd.archive_spec``: a
32x32 grid for 2-D descriptors, 1024 bins for hopper_uni's 1-D one) and QDax's metrics with the
env's ``qd_offset``. No observation normalisation (as QDax).

Methods (``--methods``):

* ``map_elites``: QDax ``MAPElites`` + ``MixingEmitter`` with ``isoline_variation`` (iso_sigma
  0.005, line_sigma 0.05, variation_percentage 1.0), QDax's example settings;
* ``cma_me``: QDax ``CMAPoolEmitter`` of ``CMAImprovementEmitter`` (CMA-ME; QDax's cmame example:
  sigma_g 0.5, improvement ranking, pool of 15 emitter states), batch ``--batch``;
* ``sv_cma_es``, ``mp_cma_es`` (``--particles`` x batch/particles), ``cma_es`` and ``open_es`` (one
  population of ``--batch``; evosax's OpenES through the evosax adapter): ``policysearch.train``
  runs whose per-seed archive holds every evaluated offspring (docs/qd.md); a strategy that this
  checkout does not have is skipped with a note.

Metrics per task and method, mean and 95 % CI over seeds (rliable's bootstrap, as the bench):
QD-score, coverage (%), max fitness of the final archive; on pointmaze ``success`` = the goal-
reaching rate, over 10 fresh initial states, of the archive's best elite at it (goal reached = the
episode ended before its time limit; evaluated with one spare step so that a last-step arrival
counts) and ``solving cells`` = cells whose elite reaches the goal from at least half of them
(distinct solving behaviours); wall time per method (compilation included; ours also validate and
export). QD curves: QD-score against evaluations (our metrics.jsonl; QDax's per-iteration
metrics). Steady-state evaluations per second against QDax's: benchmarks/qd_throughput.py.

Outputs (``--out``, default experiments_out/qd_comparison[_quick]/): run directories
``<task>/<method>/`` of our runs, ``results.json`` (rewritten after every method), ``table.md``,
figure ``qd_curves.png`` (``--figures``, default docs/figures/qd/).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

QDAX_METHODS = ("map_elites", "cma_me")
OUR_METHODS = ("sv_cma_es", "mp_cma_es", "cma_es", "open_es")
METHODS = QDAX_METHODS + OUR_METHODS
LABELS = {"map_elites": "MAP-Elites (QDax)", "cma_me": "CMA-ME (QDax)", "sv_cma_es": "SV-CMA-ES",
          "mp_cma_es": "MP-CMA-ES", "cma_es": "CMA-ES", "open_es": "OpenAI-ES (evosax)"}
ISO_SIGMA, LINE_SIGMA = 0.005, 0.05  # QDax's MAP-Elites examples
CMA_ME_SIGMA, CMA_ME_POOL = 0.5, 15  # QDax's CMA-ME example
SUCCESS_EPISODES = 10

# per task: iterations (x batch = evaluations per seed), hidden sizes, env kwargs
CPU = {
    "pointmaze": dict(iterations=400, hidden=(16, 16), kwargs={}),
    "hopper_uni": dict(iterations=30, hidden=(16, 16), kwargs={"backend": "spring", "episode_length": 100}),
}
QUICK = {
    "pointmaze": dict(iterations=4, hidden=(4,), kwargs={}),
    "hopper_uni": dict(iterations=2, hidden=(4,), kwargs={"backend": "spring", "episode_length": 20}),
}
GPU_BRAX = dict(iterations=1000, hidden=(64, 64), kwargs={"backend": "spring", "episode_length": 1000})
GPU = {"pointmaze": dict(iterations=3000, hidden=(64, 64), kwargs={}),
       **{t: GPU_BRAX for t in ("hopper_uni", "walker2d_uni", "halfcheetah_uni", "ant_omni")}}


# ---------------------------------------------------------------------------------------- QDax
def qdax_algorithm(method, env, policy, centroids, qd_offset, batch):
    """QDax's MAPElites with `method`'s emitter; its scoring function is our rollout."""
    from qdax.core.emitters.cma_improvement_emitter import CMAImprovementEmitter
    from qdax.core.emitters.cma_pool_emitter import CMAPoolEmitter
    from qdax.core.emitters.mutation_operators import isoline_variation
    from qdax.core.emitters.standard_emitters import MixingEmitter
    from qdax.core.map_elites import MAPElites
    from qdax.utils.metrics import default_qd_metrics

    from policysearch.rollout import make_population_evaluator

    evaluate = make_population_evaluator(env, policy, num_episodes=1, descriptors=True)

    def scoring(genotypes, key):
        res = evaluate(genotypes, key)
        return res.returns, res.descriptors, {}

    if method == "map_elites":
        emitter = MixingEmitter(
            mutation_fn=None, variation_percentage=1.0, batch_size=batch,
            variation_fn=functools.partial(isoline_variation, iso_sigma=ISO_SIGMA, line_sigma=LINE_SIGMA))
    elif method == "cma_me":
        emitter = CMAPoolEmitter(num_states=CMA_ME_POOL, emitter=CMAImprovementEmitter(
            batch_size=batch, genotype_dim=policy.num_params, centroids=centroids, sigma_g=CMA_ME_SIGMA))
    else:
        raise ValueError(f"unknown QDax method {method!r}; allowed: {', '.join(QDAX_METHODS)}")
    return MAPElites(scoring_function=scoring, emitter=emitter,
                     metrics_function=functools.partial(default_qd_metrics, qd_offset=qd_offset))


def qdax_init(algo, policy, centroids, batch, seed):
    """QDax's start for one seed: `batch` Flax-initialised policies, scored and inserted."""
    import jax

    key = jax.random.PRNGKey(seed)
    key, k_init, k_me = jax.random.split(key, 3)
    x0 = jax.vmap(policy.init_flat)(jax.random.split(k_init, batch))
    repertoire, emitter_state, metrics = algo.init(x0, centroids, k_me)
    return (repertoire, emitter_state, key), metrics


def run_qdax(method, env, policy, spec, batch, iterations, seeds):
    """All seeds in one compiled program: final fitnesses/genotypes [S, C, ...], metrics [S, I]."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    centroids = jnp.asarray(spec.centroids)
    algo = qdax_algorithm(method, env, policy, centroids, spec.qd_offset, batch)

    def one_seed(seed):
        carry, m0 = qdax_init(algo, policy, centroids, batch, seed)
        (repertoire, _, _), ms = jax.lax.scan(algo.scan_update, carry, None, length=iterations - 1)
        curve = {k: jnp.concatenate([m0[k][None], ms[k]]) for k in ("qd_score", "coverage", "max_fitness")}
        return repertoire.fitnesses.reshape(-1), repertoire.genotypes, curve

    # CMA-ME's seeds run one after another (lax.map): vmapped over 5 seeds on hopper_uni, its program
    # deadlocked in XLA:CPU's runtime on this 2-core machine (every thread asleep, no progress in
    # 10+ minutes; 1 seed runs fine). MAP-Elites keeps the vmap.
    over_seeds = (lambda f: lambda s: jax.lax.map(f, s)) if method == "cma_me" else jax.vmap
    t = time.perf_counter()
    fit, genotypes, curve = jax.device_get(jax.jit(over_seeds(one_seed))(jnp.asarray(seeds, jnp.int32)))
    wall = time.perf_counter() - t
    return [dict(fitnesses=np.asarray(fit[i]), genotypes=np.asarray(genotypes[i]),
                 curve={k: np.asarray(v[i]).tolist() for k, v in curve.items()}) for i in range(len(seeds))], wall


# ---------------------------------------------------------------------------------------- ours
def our_overrides(method, task, cfg, a, out_dir) -> list[str]:
    pop = {"sv_cma_es": a.batch // a.particles, "mp_cma_es": a.batch // a.particles}.get(method, a.batch)
    particles = a.particles if method in ("sv_cma_es", "mp_cma_es") else 1
    hidden = ",".join(str(h) for h in cfg["hidden"])
    return [f"env={task}", f"strategy={method}", f"strategy.num_particles={particles}",
            f"strategy.pop_size={pop}", f"policy.hidden_sizes=[{hidden}]", "policy.normalize_observations=false",
            f"seeds={a.seeds}", f"generations={cfg['iterations']}", f"chunk={cfg['iterations']}", "episodes=1",
            f"validation_episodes={SUCCESS_EPISODES}", "early_stop=false", "report=false", "progress=false",
            f"qd.cells={a.cells}", f"out_dir={out_dir}"] + [f"env.kwargs.{k}={v}" for k, v in cfg["kwargs"].items()]


def run_ours(method, task, cfg, a, out_dir):
    """A main-job run (all seeds); per seed its final archive and its QD curve."""
    from policysearch.qd import load_archive
    from policysearch.train import run

    overrides = our_overrides(method, task, cfg, a, out_dir)
    if not os.path.exists(os.path.join(out_dir, "summary.json")):
        run(_compose(overrides), overrides)
    with open(os.path.join(out_dir, "summary.json")) as fh:
        summary = json.load(fh)
    curves = {}
    with open(os.path.join(out_dir, "metrics.jsonl")) as fh:
        for line in fh:
            m = json.loads(line)
            c = curves.setdefault(m["seed"], {"qd_score": [], "coverage": [], "max_fitness": []})
            for k in c:
                c[k].append(m[k])
    per_seed = []
    for s in summary["seeds"]:
        arch = load_archive(out_dir, seed=s["seed"])
        per_seed.append(dict(fitnesses=arch.all_fitnesses(), genotypes=_full_genotypes(arch),
                             curve=curves[s["seed"]]))
    return per_seed, float(summary["wall_time_s"])


def _compose(overrides):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from policysearch.cli import CONFIG_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def _full_genotypes(arch):
    import numpy as np

    g = np.zeros((arch.centroids.shape[0], arch.genotypes.shape[1]), np.float32)
    g[arch.cells] = arch.genotypes
    return g


def has_strategy(name) -> bool:
    from policysearch.cli import CONFIG_DIR

    return os.path.exists(os.path.join(CONFIG_DIR, "strategy", f"{name}.yaml"))


# ---------------------------------------------------------------------------------------- metrics
def goal_reached(env, policy, genotypes, key):
    """bool [N, SUCCESS_EPISODES]: each policy's episodes from shared fresh starts that reach the
    goal within the time limit (run with one spare step: the episode ends at the goal only)."""
    import jax
    import numpy as np

    from envs.pointmaze import PointMaze
    from policysearch.rollout import make_population_evaluator

    spare = PointMaze(max_episode_steps=env.max_episode_steps + 1)
    evaluate = make_population_evaluator(spare, policy, num_episodes=1, descriptors=False)
    keys = jax.random.split(key, SUCCESS_EPISODES)
    lengths = jax.jit(jax.vmap(lambda k: evaluate(genotypes, k).episode_length))(keys)
    return (np.asarray(lengths) <= env.max_episode_steps).T


def seed_metrics(task, env, policy, spec, result, key) -> dict:
    import numpy as np

    from policysearch.qd import qd_metrics

    fit = np.asarray(result["fitnesses"], np.float32)
    out = {k: float(v) for k, v in qd_metrics(fit, spec.qd_offset).items()}
    if task == "pointmaze":
        filled = np.nonzero(fit > -np.inf)[0]
        rate = goal_reached(env, policy, result["genotypes"][filled], key).mean(axis=1)
        out["success"] = float(rate.max()) if rate.size else 0.0
        out["solving_cells"] = int(np.sum(rate >= 0.5))
    return out


def interval(values):
    """(mean, [lo, hi]): rliable's bootstrap 95 % CI of the mean over seeds."""
    import numpy as np

    from policysearch.bench.aggregate import _interval

    x = np.asarray(values, np.float64).reshape(-1, 1)
    point, ci = _interval(x, lambda s: np.array([np.mean(s)]), reps=2000, seed=0)
    return float(point[0]), [float(ci[0, 0]), float(ci[1, 0])]


# ---------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default=None, help="comma list (default: pointmaze,hopper_uni; --gpu: all five)")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--seeds", type=int, default=None, help="default 5 (--quick: 2)")
    p.add_argument("--batch", type=int, default=100, help="evaluations per iteration (QDax's examples: 100)")
    p.add_argument("--particles", type=int, default=4, help="SV-CMA-ES / MP-CMA-ES particles (batch / particles offspring)")
    p.add_argument("--iterations", type=int, default=None, help="override every task's iterations")
    p.add_argument("--cells", type=int, default=1024)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--gpu", action="store_true", help="QDax-sized settings (MLP 64x64, 1000-step Brax episodes)")
    p.add_argument("--out", default=None)
    p.add_argument("--figures", default=None)
    a = p.parse_args(argv)

    from experiments.paths import output_dirs
    from policysearch.cli import UsageError

    presets = QUICK if a.quick else GPU if a.gpu else CPU
    tasks = (a.tasks or ",".join(presets)).split(",")
    methods = a.methods.split(",")
    a.seeds = a.seeds or (2 if a.quick else 5)
    bad = [t for t in tasks if t not in GPU] + [m for m in methods if m not in METHODS]
    if bad or a.batch < 1 or a.seeds < 1 or a.batch % a.particles:
        print(f"error: invalid {bad or 'batch/seeds/particles'}; tasks: {', '.join(GPU)}; methods: "
              f"{', '.join(METHODS)}; --batch must be a multiple of --particles", file=sys.stderr)
        return 2
    out, figures = output_dirs("qd_comparison" + ("_gpu" if a.gpu else ""), a.quick, a.out, a.figures, "qd")
    os.makedirs(out, exist_ok=True)

    import jax
    import numpy as np

    import envs
    from policysearch import compile_cache
    from policysearch.policy import MLPPolicy
    from policysearch.qd import archive_spec

    compile_cache.enable()
    seeds = list(range(a.seeds))
    path = os.path.join(out, "results.json")
    results = json.load(open(path)) if os.path.exists(path) else {}
    results.setdefault("settings", {})
    for task in tasks:
        cfg = dict(presets.get(task, CPU.get(task, GPU_BRAX)))
        if a.iterations:
            cfg["iterations"] = a.iterations
        env = envs.make(task, **cfg["kwargs"])
        policy = MLPPolicy.for_env(env, hidden_sizes=cfg["hidden"])
        spec = archive_spec(env, a.cells)
        results["settings"][task] = {
            "iterations": cfg["iterations"], "batch": a.batch, "evaluations_per_seed": cfg["iterations"] * a.batch,
            "seeds": a.seeds, "hidden_sizes": list(cfg["hidden"]), "num_params": policy.num_params,
            "env_kwargs": cfg["kwargs"], "episode_length": env.max_episode_steps, "cells": spec.cells,
            "descriptors": list(spec.names), "qd_offset": spec.qd_offset}
        task_res = results.setdefault(task, {})
        for method in methods:
            if method == "open_es" and not has_strategy(method):
                print(f"[{task}] {method}: skipped (no configs/strategy/{method}.yaml in this checkout)")
                continue
            print(f"[{task}] {LABELS[method]} ...", flush=True)
            try:
                if method in QDAX_METHODS:
                    per_seed, wall = run_qdax(method, env, policy, spec, a.batch, cfg["iterations"], seeds)
                else:
                    per_seed, wall = run_ours(method, task, cfg, a, os.path.join(out, task, method))
            except UsageError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            key = jax.random.PRNGKey(12345)  # the same fresh starts for every method
            rows = [seed_metrics(task, env, policy, spec, r, key) for r in per_seed]
            entry = {"wall_time_s": wall, "per_seed": rows,
                     "curve_evaluations": [a.batch * (i + 1) for i in range(cfg["iterations"])],
                     "curve_qd_score": np.mean([r["curve"]["qd_score"] for r in per_seed], axis=0).tolist()}
            for k in rows[0]:
                entry[k] = dict(zip(("mean", "ci"), interval([r[k] for r in rows])))
            task_res[method] = entry
            with open(path, "w") as fh:
                json.dump(results, fh, indent=1)
            print(f"[{task}] {LABELS[method]}: " + ", ".join(
                f"{k} {entry[k]['mean']:.4g}" for k in rows[0]) + f", wall {wall:.0f} s", flush=True)
    write_table(results, os.path.join(out, "table.md"))
    plot_curves(results, os.path.join(figures, "qd_curves.png"))
    print(open(os.path.join(out, "table.md")).read())
    return 0


def write_table(results, path):
    cols = ["qd_score", "coverage", "max_fitness", "success", "solving_cells"]
    lines = []
    for task, res in results.items():
        if task == "settings":
            continue
        s = results["settings"][task]
        lines += [f"### {task}: {s['evaluations_per_seed']} evaluations per seed ({s['iterations']} x {s['batch']}), "
                  f"{s['seeds']} seeds, MLP {s['hidden_sizes']} ({s['num_params']} parameters), "
                  f"{s['episode_length']}-step episodes, {s['cells']} cells, qd_offset {s['qd_offset']:g}", "",
                  "| method | " + " | ".join(c for c in cols if c in next(iter(res.values()))) + " | wall time (s) |",
                  "|---" * (1 + sum(c in next(iter(res.values())) for c in cols)) + "|---|"]
        for m, e in res.items():
            cells = [f"{e[c]['mean']:.4g} [{e[c]['ci'][0]:.4g}, {e[c]['ci'][1]:.4g}]" for c in cols if c in e]
            lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + f" | {e['wall_time_s']:.0f} |")
        lines.append("")
    lines.append("Mean [95 % bootstrap CI] over seeds. success (pointmaze): goal-reaching rate over 10 fresh "
                 "starts of the archive's best elite at it; solving_cells: cells whose elite reaches the goal from "
                 "at least half of them. Wall time includes compilation (ours also validation and export).")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def plot_curves(results, path):
    import matplotlib.pyplot as plt

    tasks = [t for t in results if t != "settings"]
    if not tasks:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for m, e in results[task].items():
            ax.plot(e["curve_evaluations"], e["curve_qd_score"], label=LABELS[m])
        ax.set_title(task)
        ax.set_xlabel("evaluations per seed")
        ax.set_ylabel("QD-score (mean over seeds)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
