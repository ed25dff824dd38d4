"""Re-evaluate the exported best policy of every seed of a run directory.

    python -m policysearch.evaluate <run_dir> --episodes 100 --backend jax|gymnasium

`jax` uses our JAX env through the project's rollout; `gymnasium` runs the real Gymnasium env
(vectorised over episodes, with the same exported policy). Prints a JSON object and writes it
to <run_dir>/evaluation.json (or evaluation_<backend>.json beside it).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

BACKENDS = ("jax", "gymnasium")


def _stats(returns: np.ndarray, threshold: float) -> dict:
    return {
        "mean": float(np.mean(returns)),
        "std": float(np.std(returns)),
        "min": float(np.min(returns)),
        "max": float(np.max(returns)),
        "success_rate": float(np.mean(returns >= threshold)),
        "episodes": int(returns.size),
    }


def episode_returns_jax(env, policy, params, arrays, episodes: int, seed: int) -> np.ndarray:
    """Per-episode returns of one policy in our JAX env (the project's rollout path)."""
    import jax
    import jax.numpy as jnp

    from .policy import ObsNormState
    from .rollout import episode

    stats = ObsNormState(mean=jnp.asarray(arrays["obs_mean"]), var=jnp.asarray(arrays["obs_var"]),
                         count=jnp.asarray(arrays["obs_count"]))
    keys = jax.random.split(jax.random.PRNGKey(seed), episodes)
    run = jax.jit(jax.vmap(lambda k: episode(env, policy, jnp.asarray(params), k, stats)[0]))
    return np.asarray(run(keys), dtype=np.float64)


def episode_returns_gymnasium(gym_id: str, policy_fn, episodes: int, seed: int) -> np.ndarray:
    """Per-episode returns of one policy in the real Gymnasium env, `episodes` envs at once."""
    import gymnasium as gym

    vec = gym.vector.SyncVectorEnv([lambda: gym.make(gym_id) for _ in range(episodes)])
    obs, _ = vec.reset(seed=seed)
    totals = np.zeros(episodes)
    done = np.zeros(episodes, dtype=bool)
    while not done.all():
        action = policy_fn(obs.astype(np.float32))
        obs, reward, terminated, truncated, _ = vec.step(np.asarray(action))
        totals += np.where(done, 0.0, reward)
        done |= terminated | truncated
    vec.close()
    return totals


def evaluate_run(run_dir: str, episodes: int = 100, backend: str = "jax", seed: int = 12345) -> dict:
    from .export import load_params, make_policy_fn, read_policy_meta

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    meta = read_policy_meta(run_dir)
    threshold = _solve_threshold(run_dir)
    import envs

    env = envs.make(meta["env"], **meta.get("env_kwargs", {}))  # as trained (backend, length)
    if backend == "gymnasium" and not getattr(env, "gym_id", None):
        raise ValueError(f"env {meta['env']!r} has no Gymnasium counterpart; use --backend jax")
    results = []
    for entry in meta["seeds"]:
        policy, arrays, _ = load_params(run_dir, entry["seed"])
        if backend == "jax":
            returns = episode_returns_jax(env, policy, arrays["best"], arrays, episodes, seed)
        else:
            fn = make_policy_fn(policy, arrays["best"], arrays)
            returns = episode_returns_gymnasium(env.gym_id, fn, episodes, seed)
        results.append({"seed": entry["seed"], **_stats(returns, threshold)})
    out = {
        "run_dir": os.path.abspath(run_dir), "env": meta["env"], "backend": backend,
        "episodes": episodes, "eval_seed": seed, "solve_threshold": threshold,
        "solved_count": sum(r["mean"] >= threshold for r in results),
        "num_seeds": len(results), "seeds": results,
    }
    for name in ("evaluation.json", f"evaluation_{backend}.json"):
        with open(os.path.join(run_dir, name), "w") as f:
            json.dump(out, f, indent=2)
    return out


def _solve_threshold(run_dir) -> float:
    path = os.path.join(run_dir, "summary.json")
    if os.path.exists(path):
        with open(path) as f:
            return float(json.load(f).get("solve_threshold", float("inf")))
    from omegaconf import OmegaConf

    return float(OmegaConf.load(os.path.join(run_dir, "config.yaml")).env.solve_threshold)


def main(argv=None) -> int:
    from .cli import ArgumentParser, UsageError, one_line, prepare_out_dir
    from .export import read_policy_meta

    parser = ArgumentParser(prog="python -m policysearch.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--backend", default="jax", choices=BACKENDS)
    parser.add_argument("--seed", type=int, default=12345, help="seed of the evaluation episodes (>= 0)")
    args = parser.parse_args(argv)
    try:
        if not os.path.isdir(args.run_dir):
            what = "is not a directory" if os.path.exists(args.run_dir) else "does not exist"
            raise UsageError(f"run directory {args.run_dir!r} {what}")
        if args.episodes < 1:
            raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
        if args.seed < 0:
            raise UsageError(f"--seed must be >= 0, got {args.seed}")
        read_policy_meta(args.run_dir)  # a finished run directory (before any compilation)
        prepare_out_dir(args.run_dir, "run_dir")  # evaluation.json goes there
    except (UsageError, ValueError, FileNotFoundError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    from . import compile_cache

    compile_cache.enable()
    try:
        out = evaluate_run(args.run_dir, args.episodes, args.backend, args.seed)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    print(json.dumps(out, indent=2))
    return 0

if __name__ == "__main__":
    sys.exit(main())
