"""Main job: `python -m policysearch.train env=mountaincar [strategy=cma_es seeds=5 ...]`.

All seeds run in one compiled program (`runner.py`); between compiled chunks of generations
the host writes metrics.jsonl, updates the progress bar, checkpoints, and checks early stop.
The run directory layout is the contract in docs/architecture.md.
"""

from __future__ import annotations

import os

# One BLAS thread: multi-threaded OpenBLAS behind jax's CPU eigh is pathologically slow on
# small shared CPUs (the CMA-ES eigendecompositions are small). Set before numpy/scipy load.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import sys
import time

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from . import config as run_config

RESUME_CHANGEABLE = run_config.RESUME_CHANGEABLE


def _overrides() -> list[str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except Exception:  # noqa: BLE001 - not under Hydra (direct call from Python)
        return []


def resolve_config(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """The config to run: cfg itself, or for `resume=` the saved config plus allowed changes."""
    if cfg.get("resume") in (None, ""):
        return cfg
    run_dir = str(cfg.resume)
    saved_path = os.path.join(run_dir, "config.yaml")
    if not os.path.isdir(run_dir):
        raise run_config.ConfigError(f"resume directory {run_dir!r} does not exist")
    if not os.path.exists(saved_path):
        raise run_config.ConfigError(f"resume directory {run_dir!r} has no config.yaml: not a run directory")
    saved = OmegaConf.load(saved_path)
    for ov in overrides:
        key = ov.lstrip("+~").split("=", 1)[0]
        root = key.split(".", 1)[0]
        if root in RESUME_CHANGEABLE:
            continue
        if OmegaConf.select(saved, key) != OmegaConf.select(cfg, key) or root in ("env", "strategy", "policy"):
            new = ov.split("=", 1)[1] if "=" in ov else ""
            raise run_config.ConfigError(
                f"cannot change {key!r} (to {new!r}) when resuming {run_dir!r}; "
                f"only these may change: {', '.join(RESUME_CHANGEABLE)}"
            )
    merged = OmegaConf.create(OmegaConf.to_container(saved, resolve=True))
    for ov in overrides:  # only what the user changed on this command line
        key = ov.lstrip("+~").split("=", 1)[0]
        if key.split(".", 1)[0] in RESUME_CHANGEABLE and key != "resume":
            root = key.split(".", 1)[0]
            value = cfg[root]
            merged[root] = OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value
    merged = OmegaConf.to_container(merged, resolve=True)
    merged["resume"] = run_dir
    merged["out_dir"] = run_dir
    return OmegaConf.create(merged)


def _read_metrics(run_dir, upto_generation):
    """Rows of metrics.jsonl with generation <= upto (drops lines of an unfinished chunk)."""
    from .report.analysis import read_metrics

    return [row for row in read_metrics(run_dir) if row["generation"] <= upto_generation]


def run(cfg: DictConfig, overrides: list[str] | None = None) -> dict:
    """Run (or resume) a training run; returns the summary dict."""
    t_start = time.perf_counter()
    cfg = resolve_config(cfg, overrides or [])
    spec = run_config.build(cfg)  # validates everything before any compilation

    import jax
    import jax.numpy as jnp

    from . import compile_cache, sharding
    from .checkpoint import Checkpoints
    from .export import save_policies
    from .loggers import make_logger
    from .runner import NEVER, make_runner
    from .ui import Progress, print_results_table

    compile_cache.enable()
    run_dir = spec.run_dir
    os.makedirs(run_dir, exist_ok=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if not spec.resuming:
        with open(os.path.join(run_dir, "config.yaml"), "w") as f:
            f.write(OmegaConf.to_yaml(OmegaConf.create(resolved)))

    layout, mesh = sharding.plan(spec.num_seeds, spec.evals_per_generation)
    runner = make_runner(
        spec.env, spec.policy, spec.strategy, spec.strategy_params,
        num_episodes=spec.episodes, chunk_size=spec.chunk, solve_threshold=spec.solve_threshold,
        validation_episodes=spec.validation_episodes, init_sigma_scale=spec.init_scale,
        population_constraint=sharding.population_constraint(mesh) if layout == "population" else None,
    )
    seeds = np.arange(spec.seed_offset, spec.seed_offset + spec.num_seeds, dtype=np.int32)
    carry = runner.init(jnp.asarray(seeds))
    if layout == "seeds":
        carry = sharding.shard_seeds(carry, mesh)
    if layout != "single":
        print(f"devices: {len(jax.devices())} x {jax.devices()[0].platform}, sharding: {layout}", file=sys.stderr)
    ckpt = Checkpoints(run_dir)
    host_path = os.path.join(run_dir, "checkpoints", "host_state.json")
    generation, prior_wall = 0, 0.0
    metrics_path = os.path.join(run_dir, "metrics.jsonl")
    if spec.resuming:
        step = ckpt.latest()
        if step is not None:
            carry = ckpt.restore(step, carry)
            generation = int(step)
            if os.path.exists(host_path):
                with open(host_path) as f:
                    prior_wall = float(json.load(f).get("wall_time_s", 0.0))
        rows = _read_metrics(run_dir, generation)
        with open(metrics_path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    elif os.path.exists(metrics_path):
        os.remove(metrics_path)

    logger = make_logger(resolved.get("logger"), resolved, run_dir)
    validation_key = jax.random.PRNGKey(2**31 - 1)
    total = spec.generations
    progress = Progress(total, seeds, enabled=spec.progress_bar)
    progress.start(generation)
    stopped_early = False
    validated = None
    while generation < total:
        t0 = time.perf_counter()
        carry, metrics = runner.run_chunk(carry, jnp.int32(generation), jnp.int32(total))
        metrics = jax.device_get(metrics)
        done = min(spec.chunk, total - generation)
        rows = []
        for i in range(done):
            for j, s in enumerate(seeds):
                row = {"seed": int(s)}
                for k, v in metrics.items():
                    val = v[j, i].item()
                    row[k] = float(val) if isinstance(val, float) else int(val)
                rows.append(row)
        with open(metrics_path, "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        logger.log_generations(rows)
        generation += done
        chunk_index = generation // spec.chunk
        if chunk_index % spec.checkpoint_every == 0 or generation >= total:
            ckpt.save(generation, carry)
            with open(host_path, "w") as f:
                json.dump({"generation": generation,
                           "wall_time_s": prior_wall + time.perf_counter() - t_start}, f)
        best_so_far = metrics["best_so_far"][:, done - 1]
        evals_per_s = done * spec.evals_per_generation * len(seeds) / max(time.perf_counter() - t0, 1e-9)
        progress.update(generation, best_so_far, evals_per_s)
        if spec.early_stop and bool(np.all(np.asarray(carry.first_solved_generation) != NEVER)):
            validated = runner.validate(carry, validation_key)
            margin = spec.solve_threshold + spec.early_stop_margin
            if bool(np.all(np.max(np.asarray(validated[1]), axis=1) >= margin)):
                stopped_early = generation < total
                break
            validated = None
    progress.stop()

    if validated is None:
        validated = runner.validate(carry, validation_key)
    cands, val_returns = (np.asarray(a) for a in jax.device_get(validated))
    particles = np.asarray(jax.device_get(jax.vmap(spec.strategy.means)(carry.strategy_state)))
    carry_np = jax.device_get(carry)
    per_seed, exported = [], []
    for j, s in enumerate(seeds):
        k = int(np.argmax(val_returns[j]))
        first = int(carry_np.first_solved_generation[j])
        best_return = float(val_returns[j, k])
        per_seed.append({
            "seed": int(s),
            "best_return": best_return,
            "solved": bool(best_return >= spec.solve_threshold),
            "first_solved_generation": None if first == NEVER else first,
            "train_best_return": float(carry_np.best_return[j]),
            "best_source": "best_offspring" if k == 0 else f"particle_{k - 1}",
            "particle_returns": [float(v) for v in val_returns[j, 1:]],
            "evaluations": int(carry_np.evaluations[j]),
            "nan_count": int(carry_np.nan_total[j]),
        })
        exported.append({
            "seed": int(s), "best": cands[j, k], "particles": particles[j],
            "obs_mean": carry_np.obs_stats.mean[j], "obs_var": carry_np.obs_stats.var[j],
            "obs_count": carry_np.obs_stats.count[j], "best_return": best_return,
        })
    save_policies(run_dir, spec.env_name, spec.policy, exported, env_kwargs=spec.env_kwargs)
    ckpt.close()
    summary = {
        "env": spec.env_name,
        "strategy": spec.strategy_name,
        "wall_time_s": prior_wall + time.perf_counter() - t_start,
        "generations_run": generation,
        "stopped_early": stopped_early,
        "solve_threshold": spec.solve_threshold,
        "validation_episodes": spec.validation_episodes,
        "solved_count": sum(p["solved"] for p in per_seed),
        "num_seeds": len(per_seed),
        "evaluations_per_generation": spec.evals_per_generation,
        "seeds": per_seed,
    }
    _write_summary(run_dir, summary)
    print_results_table(summary)
    report_metrics = {}
    if spec.write_report:
        try:
            from .report import wandb_metrics, write_report

            write_report(run_dir)
            report_metrics = wandb_metrics(run_dir)
            logger.log_files([os.path.join(run_dir, "report")])
        except Exception as exc:  # noqa: BLE001 - a report failure never loses the run
            print(f"warning: report failed ({type(exc).__name__}: {exc})", file=sys.stderr)
    summary["wall_time_s"] = prior_wall + time.perf_counter() - t_start
    _write_summary(run_dir, summary)
    logger.log_summary({**summary, "sweep_metric": sweep_metric(summary), **report_metrics})
    logger.finish()
    print(f"run directory: {run_dir}")
    return summary


def _write_summary(run_dir, summary):
    tmp = os.path.join(run_dir, "summary.json.tmp")
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=2)
    os.replace(tmp, os.path.join(run_dir, "summary.json"))


def sweep_metric(summary: dict) -> float:
    """The number a sweep optimises (logged as `sweep_metric`): mean validated best return."""
    return float(np.mean([s["best_return"] for s in summary["seeds"]]))


@hydra.main(config_path="../configs", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import open_dict

    from .checkpoint import CheckpointError

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    if multirun and not any(o.lstrip("+~").split("=", 1)[0] == "out_dir" for o in hc.overrides.task):
        with open_dict(cfg):  # one run directory per sweep job (jobs may start in the same second)
            cfg.out_dir = f"{hc.sweep.dir}/{hc.sweep.subdir}"
    try:
        summary = run(cfg, _overrides())
    except (run_config.ConfigError, CheckpointError) as exc:
        if multirun:  # let the sweeper mark this job failed; the sweep goes on
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    return sweep_metric(summary)


if __name__ == "__main__":
    main()
