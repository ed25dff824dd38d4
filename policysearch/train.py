"""Main job: `python -m policysearch.train env=mountaincar [strategy=cma_es seeds=5 ...]`.

All seeds run in one compiled program (`runner.py`); between compiled chunks of generations
the host writes metrics.jsonl, updates the progress bar, checkpoints, and decides whether to
stop. The run directory layout is the contract in docs/architecture.md.

A run is five named steps (`TrainJob`): resume, loop, validate, export, report (the summary is
written around the report). Resume guarantee: a run killed at ANY moment and continued with
`resume=<run_dir>` ends identical to the uninterrupted run (metrics.jsonl, summary.json apart
from wall times, policies, report). The mechanism: everything after the last checkpoint is
re-derived deterministically from it. The post-chunk decision (stop at the generation limit,
or early stop after a validation with a fixed key) is a pure function of the checkpointed carry,
so `resume` repeats the decision for the restored generation before running any chunk; metrics
rows past the checkpoint are dropped and recomputed; every file after the loop is rewritten
atomically from the (re-derived) final state. Named crash points (`faults.crash_point`) mark
the moments a kill is tested at (tests/test_resume_faults.py), in run order: chunk, metrics,
checkpoint, early_stop_validation (each `@generation`), final_validation, export, summary,
report, after_report.
"""

from __future__ import annotations

import os

# One BLAS thread: multi-threaded OpenBLAS behind jax's CPU eigh is pathologically slow on
# small shared CPUs (the CMA-ES eigendecompositions are small). Set before numpy/scipy load.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import json
import sys
import time

import numpy as np
from omegaconf import DictConfig, OmegaConf

from . import config as run_config
from .cli import gradient_free_strategies, hydra_app, task_overrides
from .faults import crash_point

RESUME_CHANGEABLE = run_config.RESUME_CHANGEABLE
VALIDATION_SEED = 2**31 - 1  # fixed key of every validation: the stop decision is re-derivable


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


def _write_atomic(path, text: str, crash: str | None = None) -> None:
    """Write a file so that a kill leaves either the old or the new content, never a torn one."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    if crash:
        crash_point(crash)
    os.replace(tmp, path)


class TrainJob:
    """One training run as named steps; see the module docstring for the resume guarantee."""

    def __init__(self, cfg: DictConfig, spec: run_config.RunSpec, t_start: float):
        import jax
        import jax.numpy as jnp

        from . import sharding
        from .checkpoint import Checkpoints
        from .runner import make_runner

        self.cfg, self.spec, self.t_start = cfg, spec, t_start
        self.run_dir = spec.run_dir
        self.resolved = OmegaConf.to_container(cfg, resolve=True)
        if not spec.resuming:
            _write_atomic(os.path.join(self.run_dir, "config.yaml"), OmegaConf.to_yaml(OmegaConf.create(self.resolved)))
        layout, mesh = sharding.plan(spec.num_seeds, spec.evals_per_generation)
        self.runner = make_runner(
            spec.env, spec.policy, spec.strategy, spec.strategy_params,
            num_episodes=spec.episodes, chunk_size=spec.chunk, solve_threshold=spec.solve_threshold,
            validation_episodes=spec.validation_episodes, init_sigma_scale=spec.init_scale,
            population_constraint=sharding.population_constraint(mesh) if layout == "population" else None,
            archive_spec=spec.archive_spec,
        )
        self.seeds = np.arange(spec.seed_offset, spec.seed_offset + spec.num_seeds, dtype=np.int32)
        self.carry = self.runner.init(jnp.asarray(self.seeds))
        if layout == "seeds":
            self.carry = sharding.shard_seeds(self.carry, mesh)
        self.initial_carry = self.carry  # deterministic in the seeds: re-derived exactly on resume
        if layout != "single":
            print(f"devices: {len(jax.devices())} x {jax.devices()[0].platform}, sharding: {layout}", file=sys.stderr)
        self.ckpt = Checkpoints(self.run_dir)
        self.host_path = os.path.join(self.run_dir, "checkpoints", "host_state.json")
        self.metrics_path = os.path.join(self.run_dir, "metrics.jsonl")
        self.generation, self.prior_wall = 0, 0.0
        self.saved_generation = None  # generation of the newest checkpoint on disk
        self.stopped_early, self.validated = False, None
        self.validation_key = jax.random.PRNGKey(VALIDATION_SEED)

    def wall(self) -> float:
        return self.prior_wall + time.perf_counter() - self.t_start

    # -- step 1: resume -------------------------------------------------------------------
    def resume(self) -> bool:
        """Restore the newest checkpoint (if resuming) and re-derive its post-chunk decision.

        Returns True when the run must still loop, False when the decision at the restored
        generation was to stop (end of run or early stop), exactly as the uninterrupted run.
        """
        if not self.spec.resuming:
            if os.path.exists(self.metrics_path):
                os.remove(self.metrics_path)
            return True
        step = self.ckpt.latest()
        if step is not None:
            self.carry = self.ckpt.restore(step, self.carry)
            self.generation = self.saved_generation = int(step)
            if os.path.exists(self.host_path):
                with open(self.host_path) as f:
                    self.prior_wall = float(json.load(f).get("wall_time_s", 0.0))
        rows = _read_metrics(self.run_dir, self.generation)
        _write_atomic(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))
        return self.generation == 0 or not self.decide()

    # -- the post-chunk decision (a pure function of the carry and the spec) -----------------
    def decide(self) -> bool:
        """True to stop after the current generation; sets stopped_early / validated."""
        from .runner import NEVER

        spec = self.spec
        margin = spec.solve_threshold + spec.early_stop_margin
        if (spec.early_stop and bool(np.all(np.asarray(self.carry.first_solved_generation) != NEVER))
                and self._enough_behaviours(margin)):  # cheap count first, validation only then
            validated = self.runner.validate(self.carry, self.validation_key)
            crash_point("early_stop_validation", self.generation)
            if bool(np.all(np.max(np.asarray(validated[1]), axis=1) >= margin)):
                self.validated = validated
                self.stopped_early = self.generation < spec.generations
                return True
        return self.generation >= spec.generations

    def _enough_behaviours(self, margin: float) -> bool:
        """`early_stop_behaviours` = K > 0: every seed's archive holds >= K cells whose elite's
        training return reaches threshold + margin (K distinct solving behaviours)."""
        k = self.spec.early_stop_behaviours
        if not k:
            return True
        from .qd.metrics import solving_cells

        fitnesses = np.asarray(self.carry.archive.fitnesses)  # [seeds, cells], -inf where empty
        return all(int(solving_cells(f, margin)) >= k for f in fitnesses)

    def _checkpoint(self):
        if self.saved_generation == self.generation:
            return
        self.ckpt.save(self.generation, self.carry)
        _write_atomic(self.host_path, json.dumps({"generation": self.generation, "wall_time_s": self.wall()}))
        self.saved_generation = self.generation
        crash_point("checkpoint", self.generation)

    # -- step 2: loop ---------------------------------------------------------------------
    def loop(self, logger) -> None:
        import jax
        import jax.numpy as jnp

        from .ui import Progress

        spec, total = self.spec, self.spec.generations
        progress = Progress(total, self.seeds, enabled=spec.progress_bar)
        progress.start(self.generation)
        try:
            while True:
                t0 = time.perf_counter()
                self.carry, metrics = self.runner.run_chunk(self.carry, jnp.int32(self.generation), jnp.int32(total))
                metrics = jax.device_get(metrics)
                done = min(spec.chunk, total - self.generation)
                crash_point("chunk", self.generation + done)
                rows = []
                for i in range(done):
                    for j, s in enumerate(self.seeds):
                        row = {"seed": int(s)}
                        for k, v in metrics.items():
                            val = v[j, i].item()
                            row[k] = float(val) if isinstance(val, float) else int(val)
                        rows.append(row)
                with open(self.metrics_path, "a") as f:
                    f.writelines(json.dumps(r) + "\n" for r in rows)
                logger.log_generations(rows)
                self.generation += done
                crash_point("metrics", self.generation)
                if (self.generation // spec.chunk) % spec.checkpoint_every == 0 or self.generation >= total:
                    self._checkpoint()
                best_so_far = metrics["best_so_far"][:, done - 1]
                evals_per_s = done * spec.evals_per_generation * len(self.seeds) / max(time.perf_counter() - t0, 1e-9)
                progress.update(self.generation, best_so_far, evals_per_s)
                if self.decide():
                    break
        finally:
            progress.stop()

    # -- step 3: validate -----------------------------------------------------------------
    def validate(self):
        import jax

        self._checkpoint()  # the final state is on disk before anything is written from it
        if self.validated is None:
            self.validated = self.runner.validate(self.carry, self.validation_key)
        crash_point("final_validation", self.generation)
        return tuple(np.asarray(a) for a in jax.device_get(self.validated))

    # -- step 4: export -------------------------------------------------------------------
    def export(self, validated) -> list[dict]:
        import jax

        from .export import save_policies
        from .runner import NEVER

        spec = self.spec
        cands, val_returns = validated
        particles = np.asarray(jax.device_get(jax.vmap(spec.strategy.means)(self.carry.strategy_state)))
        carry_np = jax.device_get(self.carry)
        per_seed, exported = [], []
        for j, s in enumerate(self.seeds):
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
            if spec.archive_spec is not None:  # the seed's QD archive (filled cells) and its metrics
                from .qd import archive_arrays, saved_archive

                arrays = archive_arrays(jax.tree.map(lambda a: a[j], carry_np.archive))
                exported[-1].update(arrays)
                saved = saved_archive(arrays, spec.archive_spec.to_dict(), int(s))
                per_seed[-1].update(saved.metrics(spec.solve_threshold))
        save_policies(self.run_dir, spec.env_name, spec.policy, exported, env_kwargs=spec.env_kwargs,
                      qd=None if spec.archive_spec is None else spec.archive_spec.to_dict())
        return per_seed

    # -- step 5: summary and report --------------------------------------------------------
    def initial_returns(self) -> np.ndarray:
        """Per seed, the mean validated return of the initial particles (same fixed key as the
        final validation): the zero of the bench's normalised score (docs/bench.md)."""
        import jax

        returns = np.asarray(jax.device_get(self.runner.validate(self.initial_carry, self.validation_key)[1]))
        return returns[:, 1:].mean(axis=1)  # column 0 is best_params, a copy of particle 0 at init

    def summary(self, per_seed) -> dict:
        spec = self.spec
        for p, r in zip(per_seed, self.initial_returns()):
            p["initial_return"] = float(r)
        summary = {
            "env": spec.env_name,
            "strategy": spec.strategy_name,
            "wall_time_s": self.wall(),
            "generations_run": self.generation,
            "stopped_early": self.stopped_early,
            "solve_threshold": spec.solve_threshold,
            "validation_episodes": spec.validation_episodes,
            "solved_count": sum(p["solved"] for p in per_seed),
            "num_seeds": len(per_seed),
            "evaluations_per_generation": spec.evals_per_generation,
            "seeds": per_seed,
        }
        _write_atomic(os.path.join(self.run_dir, "summary.json"), json.dumps(summary, indent=2), crash="summary")
        return summary

    def report(self, summary, logger) -> dict:
        report_metrics = {}
        if self.spec.write_report:
            crash_point("report")
            try:
                from .report import wandb_metrics, write_report

                write_report(self.run_dir)
                report_metrics = wandb_metrics(self.run_dir)
                logger.log_files([os.path.join(self.run_dir, "report")])
            except Exception as exc:  # noqa: BLE001 - a report failure never loses the run
                print(f"warning: report failed ({type(exc).__name__}: {exc})", file=sys.stderr)
            crash_point("after_report")
        summary["wall_time_s"] = self.wall()
        _write_atomic(os.path.join(self.run_dir, "summary.json"), json.dumps(summary, indent=2))
        return report_metrics


def run(cfg: DictConfig, overrides: list[str] | None = None) -> dict:
    """Run (or resume) a training run; returns the summary dict."""
    t_start = time.perf_counter()
    from . import compile_cache

    compile_cache.enable()  # before build: building the strategy runs ~50 tiny eager programs
    cfg = resolve_config(cfg, overrides or [])
    spec = run_config.build(cfg)  # validates everything (and the run directory) before compiling

    from .loggers import make_logger
    from .ui import print_results_table

    job = TrainJob(cfg, spec, t_start)
    try:
        must_loop = job.resume()
        logger = make_logger(job.resolved.get("logger"), job.resolved, job.run_dir)
        if must_loop:
            job.loop(logger)
        per_seed = job.export(job.validate())
    finally:
        job.ckpt.close()
    summary = job.summary(per_seed)
    print_results_table(summary)
    report_metrics = job.report(summary, logger)
    logger.log_summary({**summary, "sweep_metric": sweep_metric(summary), **report_metrics})
    logger.finish()
    print(f"run directory: {job.run_dir}")
    return summary


def sweep_metric(summary: dict) -> float:
    """The number a sweep optimises (logged as `sweep_metric`): mean validated best return."""
    return float(np.mean([s["best_return"] for s in summary["seeds"]]))


# in a multirun every job gets its own out_dir (cli.per_job_out_dir)
@hydra_app("train", help_groups=("sweep",), help_option=gradient_free_strategies)
def main(cfg: DictConfig) -> float:
    return sweep_metric(run(cfg, task_overrides()))


if __name__ == "__main__":
    main()
