"""Run loggers. W&B is optional and can never stop training: every call is guarded.

`logger=wandb` defaults to offline mode (no account, no network); `logger.mode=online` uses the
service. A failure disables the logger with one warning line and training goes on.
"""

from __future__ import annotations

import os
import sys


class NullLogger:
    def log_generations(self, rows):
        pass

    def log_summary(self, summary):
        pass

    def log_files(self, paths):
        pass

    def finish(self, summary=None):
        pass


class WandbLogger(NullLogger):
    """One W&B run per training run; per-seed metrics as `seed<s>/<metric>` at step = generation."""

    def __init__(self, cfg: dict, run_dir: str, project="policysearch", mode="offline", entity=None,
                 group=None, tags=None, name=None):
        self.run = None
        try:
            import wandb

            self._wandb = wandb
            self.run = wandb.init(
                project=project, entity=entity, group=group, tags=list(tags or []), name=name,
                mode=mode, dir=run_dir, config=cfg, reinit="finish_previous",
                settings=wandb.Settings(silent=True, console="off"),
            )
        except Exception as exc:  # noqa: BLE001 - logging must never stop training
            self._fail("init", exc)

    def _fail(self, what, exc):
        print(f"warning: W&B {what} failed ({type(exc).__name__}: {exc}); continuing without W&B",
              file=sys.stderr)
        self.run = None

    def log_generations(self, rows):
        if self.run is None:
            return
        try:
            by_gen: dict[int, dict] = {}
            for r in rows:
                d = by_gen.setdefault(int(r["generation"]), {})
                for k, v in r.items():
                    if k not in ("seed", "generation") and v is not None:
                        d[f"seed{r['seed']}/{k}"] = v
                d["evaluations"] = r["evaluations"]
            for g in sorted(by_gen):
                vals = [v for k, v in by_gen[g].items() if k.endswith("/best_so_far")]
                by_gen[g]["best_so_far/mean_over_seeds"] = sum(vals) / max(len(vals), 1)
                self.run.log(by_gen[g], step=g)
        except Exception as exc:  # noqa: BLE001
            self._fail("log", exc)

    def log_summary(self, summary):
        if self.run is None:
            return
        try:
            flat = {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool))}
            for s in summary.get("seeds", []):
                for k, v in s.items():
                    if k != "seed" and isinstance(v, (int, float, bool)) and v is not None:
                        flat[f"seed{s['seed']}/{k}"] = v
            self.run.summary.update(flat)
        except Exception as exc:  # noqa: BLE001
            self._fail("summary", exc)

    def log_files(self, paths):
        if self.run is None:
            return
        try:
            art = self._wandb.Artifact(f"run-{self.run.id}-files", type="run_files")
            for p in paths:
                if os.path.isdir(p):
                    art.add_dir(p, name=os.path.basename(p))
                elif os.path.exists(p):
                    art.add_file(p)
            self.run.log_artifact(art)
        except Exception as exc:  # noqa: BLE001
            self._fail("artifact", exc)

    def finish(self, summary=None):
        if self.run is None:
            return
        try:
            self.run.finish()
        except Exception as exc:  # noqa: BLE001
            self._fail("finish", exc)


def make_logger(logger_cfg: dict, cfg: dict, run_dir: str):
    kind = (logger_cfg or {}).get("name", "none")
    if kind == "none":
        return NullLogger()
    if kind == "wandb":
        opts = {k: v for k, v in logger_cfg.items() if k != "name"}
        return WandbLogger(cfg, run_dir, **opts)
    raise ValueError(f"unknown logger {kind!r}; allowed: none, wandb")
