"""Per-seed analysis of a run directory: outcomes, learning-curve data, diversity metrics.

`analyse_run(run_dir)` reads the run directory (docs/architecture.md, "Run directory"), replays
every seed's final particles and best policy from a few shared initial states through
`policysearch.rollout.record_trajectories` (all seeds in one jitted, vmapped call), evaluates
every particle on shared probe states, and computes the metrics of
:mod:`policysearch.report.diversity`. The JSON-able part is what `report/diversity.json` holds;
the arrays (trajectories) are kept under the key ``"_arrays"`` for the figures.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from . import diversity as div

#: PRNG key of the shared initial states of the report's trajectories (fixed: every run and
#: strategy is replayed from the same initial states)
REPORT_KEY = 20240917
#: shared initial states per seed
REPORT_EPISODES = 3
#: probe states for the action embedding: grid points per dimension (envs with a known
#: observation box) or number of visited observations sampled (other envs)
PROBE_GRID_PER_DIM = 9
PROBE_SAMPLES = 64

#: per-seed metrics summarised across seeds (median, IQR, mean, std, min, max)
ACROSS_SEED_KEYS = (
    "best_return",
    "final_best_so_far",
    "particles_solving_fraction",
    "params_mean_pairwise",
    "params_min_pairwise",
    "vendi_params",
    "actions_mean_pairwise",
    "vendi_actions",
    "dvd_logdet_actions",
    "trajectories_mean_pairwise",
    "vendi_trajectories",
    "behaviours",
    "behaviours_solving",
)

#: per-seed QD-archive metrics (runs with an archive, docs/qd.md), summarised across seeds too
QD_KEYS = ("qd_score", "coverage", "max_fitness", "solving_cells")

EVALUATION_FILES = ("evaluation.json", "evaluation_jax.json", "evaluation_gymnasium.json")


# --------------------------------------------------------------------------------------------
# reading a run directory
# --------------------------------------------------------------------------------------------
def _read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def read_config(run_dir) -> dict:
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.exists(path):
        return {}
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
    except Exception:  # noqa: BLE001 - a config with unresolvable interpolations is still a run
        return {}


def read_metrics(run_dir) -> list[dict]:
    """Rows of metrics.jsonl (a torn last line is ignored)."""
    path = os.path.join(run_dir, "metrics.jsonl")
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return rows


def metrics_by_seed(rows) -> dict[int, dict[str, np.ndarray]]:
    """{seed: {column: array over generations}} sorted by generation."""
    out: dict[int, dict[str, list]] = {}
    for r in sorted(rows, key=lambda r: (r["seed"], r["generation"])):
        cols = out.setdefault(int(r["seed"]), {})
        for k, v in r.items():
            cols.setdefault(k, []).append(np.nan if v is None else v)
    return {s: {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()} for s, cols in out.items()}


def read_evaluations(run_dir) -> dict[str, dict]:
    """{backend: {seed: per-seed stats}} from evaluation*.json (written by policysearch.evaluate)."""
    out: dict[str, dict] = {}
    for name in EVALUATION_FILES:
        data = _read_json(os.path.join(run_dir, name))
        if not data:
            continue
        backend = data.get("backend") or name[len("evaluation_"):-len(".json")] or "jax"
        if backend in out and name == "evaluation.json":
            continue  # the backend-specific file wins
        out[backend] = {
            "episodes": data.get("episodes"),
            "seeds": {int(s["seed"]): s for s in data.get("seeds", [])},
        }
    return out


def solve_threshold(summary, config) -> float:
    if summary and summary.get("solve_threshold") is not None:
        return float(summary["solve_threshold"])
    try:
        return float(config["env"]["solve_threshold"])
    except (KeyError, TypeError, ValueError):
        return float("inf")


def make_env(meta, config):
    import envs

    kwargs = {}
    env_cfg = config.get("env") if isinstance(config, dict) else None
    if isinstance(env_cfg, dict) and isinstance(env_cfg.get("kwargs"), dict):
        kwargs = dict(env_cfg["kwargs"])
    return envs.make(meta["env"], **kwargs)


def observation_box(env):
    """(low, high) of the observation space when the env defines one we know of, else None.

    MountainCar (both variants): position in [min_position, max_position], velocity in
    [-max_speed, max_speed].
    """
    names = ("min_position", "max_position", "max_speed")
    if int(env.observation_size) == 2 and all(hasattr(env, n) for n in names):
        low = np.array([env.min_position, -env.max_speed], np.float64)
        high = np.array([env.max_position, env.max_speed], np.float64)
        return low, high
    return None


def observation_names(env) -> list[str]:
    if observation_box(env) is not None:
        return ["position", "velocity"]
    return [f"obs[{i}]" for i in range(int(env.observation_size))]


# --------------------------------------------------------------------------------------------
# rollouts (the project's one rollout path)
# --------------------------------------------------------------------------------------------
_REPLAY_CACHE: dict = {}


def _env_key(env):
    return (type(env), tuple(sorted((k, repr(v)) for k, v in vars(env).items())))


def replay(env, policy, params, obs_mean, obs_var, obs_count, episodes=REPORT_EPISODES, max_steps=None):
    """Trajectories of params[S, M, d] (seed s uses its own observation statistics) from the
    same `episodes` initial states; dict of arrays [S, M, E, T, ...] and returns [S, M, E]."""
    import jax
    import jax.numpy as jnp

    from ..policy import ObsNormState
    from ..rollout import record_trajectories

    key = (_env_key(env), policy, int(episodes), max_steps)
    fn = _REPLAY_CACHE.get(key)
    if fn is None:
        keys = jax.random.split(jax.random.PRNGKey(REPORT_KEY), int(episodes))

        def per_seed(p, st):
            return record_trajectories(env, policy, p, keys, st, max_steps=max_steps)

        fn = _REPLAY_CACHE[key] = jax.jit(jax.vmap(per_seed))
    stats = ObsNormState(mean=jnp.asarray(obs_mean, jnp.float32), var=jnp.asarray(obs_var, jnp.float32),
                         count=jnp.asarray(obs_count, jnp.float32))
    out = fn(jnp.asarray(params, jnp.float32), stats)
    return {k: np.asarray(v) for k, v in jax.device_get(out).items()}


_PROBE_CACHE: dict = {}


def probe_actions(policy, params, probes, obs_mean, obs_var, obs_count):
    """Actions of params[S, M, d] on probes[S, P, obs] -> [S, M, P, ...]."""
    import jax
    import jax.numpy as jnp

    from ..policy import ObsNormState

    fn = _PROBE_CACHE.get(policy)
    if fn is None:
        on_probes = jax.vmap(policy.act, in_axes=(None, 0, None))
        per_particle = jax.vmap(on_probes, in_axes=(0, None, None))
        fn = _PROBE_CACHE[policy] = jax.jit(jax.vmap(per_particle, in_axes=(0, 0, 0)))
    stats = ObsNormState(mean=jnp.asarray(obs_mean, jnp.float32), var=jnp.asarray(obs_var, jnp.float32),
                         count=jnp.asarray(obs_count, jnp.float32))
    out = fn(jnp.asarray(params, jnp.float32), jnp.asarray(probes, jnp.float32), stats)
    return np.asarray(out)


# --------------------------------------------------------------------------------------------
# the analysis
# --------------------------------------------------------------------------------------------
def _stats(values) -> dict:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    if v.size == 0:
        return {"n": 0, "median": None, "q25": None, "q75": None, "mean": None, "std": None,
                "min": None, "max": None}
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return {"n": int(v.size), "median": float(med), "q25": float(q25), "q75": float(q75),
            "mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max())}


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def rules() -> dict:
    """The documented rules behind the numbers (copied into diversity.json and the report)."""
    return {
        "initial_states": f"{REPORT_EPISODES} shared initial states per seed (env.reset with "
                          f"jax.random.split(PRNGKey({REPORT_KEY}), {REPORT_EPISODES})), the same for "
                          "every particle, seed and run",
        "probe_states": f"envs with a known observation box (MountainCar): a {PROBE_GRID_PER_DIM}x"
                        f"{PROBE_GRID_PER_DIM} grid over the box; other envs: {PROBE_SAMPLES} "
                        "observations sampled (fixed RNG) from those the seed's particles visit "
                        "from the shared initial states (fewer, the same number for every seed, when "
                        "some seed's particles visit fewer states)",
        "params_vendi": "RBF kernel on flat parameters, bandwidth = median heuristic "
                        "med/sqrt(2 log(n+1)), floored at "
                        f"{div.PARAM_REL_FLOOR} x RMS particle norm",
        "actions_vendi": "RBF kernel on actions (normalised to [-1, 1]) on the probe states, "
                         f"distance = RMS difference, fixed bandwidth {div.ACTION_BANDWIDTH}",
        "trajectories_vendi": "RBF kernel on forward-filled observation traces from the shared "
                              "initial states, each dimension divided by the trajectory scale, "
                              f"distance = RMS difference, fixed bandwidth {div.TRAJECTORY_BANDWIDTH}",
        "trajectory_scale": "observation box known: (high - low)/sqrt(12) (std of a uniform "
                            "distribution on the box); otherwise the std of all visited observations "
                            "of the run",
        "behaviours": "complete-linkage clusters of the trajectory embeddings: every pair in a "
                      f"cluster differs by at most {div.BEHAVIOUR_THRESHOLD} (RMS, scaled units); "
                      "particles that solve and particles that do not are clustered separately; "
                      "behaviours solving = the clusters of the particles that solve",
        "particle_solves": "mean return over the shared initial states >= solve threshold",
        "dvd_logdet": f"log det of the action kernel, eigenvalues floored at {div.DVD_EIG_FLOOR}",
        "vendi": "exp(entropy of the eigenvalues of K/n) (Friedman & Dieng 2023)",
        "qd_archive": "runs with a QD archive (docs/qd.md): every evaluated policy of the run in a "
                      "per-seed MAP-Elites archive over the env's behaviour descriptor (fitness = "
                      "training return); qd_score = sum of (fitness + qd_offset) over filled cells, "
                      "coverage = % of cells filled, max_fitness (QDax's definitions); solving cells = "
                      "distinct solving behaviours = cells whose elite's training return >= solve threshold",
    }


def analyse_run(run_dir, episodes: int = REPORT_EPISODES, max_steps: int | None = None) -> dict:
    """Everything the report shows about one run directory (see module docstring)."""
    from ..export import load_params, read_policy_meta
    from ..qd import saved_archive

    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"run directory {run_dir!r} does not exist")
    config = read_config(run_dir)
    summary = _read_json(os.path.join(run_dir, "summary.json"))
    rows = read_metrics(run_dir)
    curves = metrics_by_seed(rows)
    meta = read_policy_meta(run_dir)
    threshold = solve_threshold(summary, config)
    evaluations = read_evaluations(run_dir)
    env = make_env(meta, config)
    strategy = (summary or {}).get("strategy") or _strategy_from_config(config) or "unknown"

    seeds = [int(e["seed"]) for e in meta["seeds"]]
    loaded = [load_params(run_dir, s) for s in seeds]
    policy = loaded[0][0]
    arrays = [a for _, a, _ in loaded]
    particles = np.stack([np.asarray(a["particles"], np.float32).reshape(-1, policy.num_params) for a in arrays])
    best = np.stack([np.asarray(a["best"], np.float32).reshape(policy.num_params) for a in arrays])
    obs_mean = np.stack([np.asarray(a["obs_mean"], np.float32) for a in arrays])
    obs_var = np.stack([np.asarray(a["obs_var"], np.float32) for a in arrays])
    obs_count = np.stack([np.asarray(a["obs_count"], np.float32).reshape(()) for a in arrays])
    num_particles = particles.shape[1]
    params = np.concatenate([particles, best[:, None, :]], axis=1)  # [S, N + 1, d]; last = best

    traj = replay(env, policy, params, obs_mean, obs_var, obs_count, episodes, max_steps)
    box = observation_box(env)
    if box is not None:
        scale = (box[1] - box[0]) / math.sqrt(12.0)
        grid = div.probe_grid(box[0], box[1], PROBE_GRID_PER_DIM)
        probes = np.broadcast_to(grid, (len(seeds),) + grid.shape)
        probe_kind = f"grid {PROBE_GRID_PER_DIM}x{PROBE_GRID_PER_DIM} over the observation box"
    else:
        filled = div.forward_fill(traj["observations"][:, :num_particles], traj["alive"][:, :num_particles])
        scale = filled.reshape(-1, filled.shape[-1]).std(axis=0).astype(np.float64)
        scale = np.where(scale > 1e-8, scale, 1.0)
        # as many probes for every seed: PROBE_SAMPLES, or fewer when some seed's particles visit
        # fewer states (e.g. one particle whose episodes end within a few steps)
        alive = np.asarray(traj["alive"][:, :num_particles]).astype(bool)
        visited = [int(a.sum()) or a.size for a in alive]
        num_probes = min(PROBE_SAMPLES, *visited)
        probes = np.stack([
            div.sample_probe_states(traj["observations"][j, :num_particles], alive[j], num_probes, seed=0)
            for j in range(len(seeds))
        ])
        probe_kind = f"{probes.shape[1]} visited observations per seed"
    actions = probe_actions(policy, particles, probes, obs_mean, obs_var, obs_count)

    summary_seeds = {int(s["seed"]): s for s in (summary or {}).get("seeds", [])}
    returns = traj["returns"]  # [S, N + 1, E]
    per_seed, labels, archives = [], [], []
    for j, s in enumerate(seeds):
        ps = summary_seeds.get(s, {})
        c = curves.get(s, {})
        first = ps.get("first_solved_generation") if ps else _first_solve_from_curve(c, threshold)
        particle_returns = returns[j, :num_particles].mean(axis=1)
        outcome = particle_returns >= threshold
        act_emb = div.action_embedding(actions[j], policy.discrete, policy.action_size,
                                       policy.action_low, policy.action_high)
        tr_emb = div.trajectory_embedding(traj["observations"][j, :num_particles],
                                          traj["alive"][j, :num_particles], scale)
        d = div.set_diversity(particles[j], act_emb, tr_emb, outcome)
        labels.append(np.asarray(d.pop("behaviour_labels")))
        final_bsf = _last(c.get("best_so_far"))
        best_return = ps.get("best_return") if ps else final_bsf
        entry = {
            "seed": s,
            "solved": bool(ps["solved"]) if "solved" in ps else bool(
                best_return is not None and best_return >= threshold),
            "first_solved_generation": first,
            "evaluations_to_solve": _evaluations_at(c, first),
            "best_return": _num(best_return),
            "train_best_return": _num(ps.get("train_best_return", final_bsf)),
            "final_best_so_far": _num(final_bsf),
            "generations": int(c["generation"][-1]) if "generation" in c and len(c["generation"]) else 0,
            "evaluations": int(c["evaluations"][-1]) if "evaluations" in c and len(c["evaluations"]) else None,
            "best_report_return": _num(returns[j, num_particles].mean()),
            "particle_returns": [float(v) for v in particle_returns],
            "particles_solving": int(outcome.sum()),
            "particles_solving_fraction": float(outcome.mean()),
        }
        for backend, ev in evaluations.items():
            e = ev["seeds"].get(s)
            if e is not None:
                entry[f"eval_{backend}_mean"] = _num(e.get("mean"))
                entry[f"eval_{backend}_std"] = _num(e.get("std"))
                entry[f"eval_{backend}_success_rate"] = _num(e.get("success_rate"))
        entry.update(d)
        if meta.get("qd") and "archive_cells" in arrays[j]:  # the seed's QD archive
            saved = saved_archive(arrays[j], meta["qd"], s)
            archives.append(saved)
            entry.update(saved.metrics(threshold))
        per_seed.append(entry)

    aggregate = aggregate_seeds(per_seed, evaluations)
    return {
        "run_dir": os.path.abspath(run_dir),
        "env": meta["env"],
        "strategy": strategy,
        "solve_threshold": threshold,
        "num_particles": int(num_particles),
        "num_params": int(policy.num_params),
        "generations_run": (summary or {}).get("generations_run"),
        "wall_time_s": (summary or {}).get("wall_time_s"),
        "report_episodes": int(episodes),
        "report_key": REPORT_KEY,
        "probe_states": probe_kind,
        "num_probe_states": int(probes.shape[1]),
        "trajectory_scale": [float(v) for v in np.asarray(scale).reshape(-1)],
        "observation_names": observation_names(env),
        "evaluation_backends": sorted(evaluations),
        "rules": rules(),
        "qd": meta.get("qd"),
        "seeds": per_seed,
        "aggregate": aggregate,
        "_arrays": {
            "observations": traj["observations"],  # [S, N + 1, E, T, obs] (last = best)
            "alive": traj["alive"],
            "returns": returns,
            "labels": labels,
            "archives": archives,  # qd.SavedArchive per seed ([] without an archive)
            "curves": curves,
            "box": box,
            "goal": _num(getattr(env, "goal_position", None)) if box is not None else None,
        },
    }


def aggregate_seeds(per_seed: list[dict], evaluations: dict | None = None) -> dict:
    n = len(per_seed)
    solved = [p for p in per_seed if p["solved"]]
    firsts = [p["first_solved_generation"] for p in per_seed if p["first_solved_generation"] is not None]
    evals = [p["evaluations_to_solve"] for p in per_seed if p["evaluations_to_solve"] is not None]
    out = {
        "num_seeds": n,
        "solved_count": len(solved),
        "solved_fraction": len(solved) / n if n else 0.0,
        "first_solved_count": len(firsts),
        "first_solved_generation": _stats(firsts),
        "evaluations_to_solve": _stats(evals),
    }
    for k in ACROSS_SEED_KEYS + QD_KEYS:
        out[k] = _stats([p.get(k) for p in per_seed])
    for backend in sorted(evaluations or {}):
        out[f"eval_{backend}_mean"] = _stats([p.get(f"eval_{backend}_mean") for p in per_seed])
    return out


def _strategy_from_config(config) -> str | None:
    s = config.get("strategy") if isinstance(config, dict) else None
    if isinstance(s, dict):
        return s.get("name")
    return s if isinstance(s, str) else None


def _last(a):
    if a is None or len(a) == 0:
        return None
    return _num(a[-1])


def _first_solve_from_curve(c, threshold):
    if "best_return" not in c:
        return None
    hit = np.nonzero(c["best_return"] >= threshold)[0]
    return int(c["generation"][hit[0]]) if hit.size else None


def _evaluations_at(c, generation):
    if generation is None or "generation" not in c or "evaluations" not in c:
        return None
    hit = np.nonzero(c["generation"] == generation)[0]
    return int(c["evaluations"][hit[0]]) if hit.size else None
