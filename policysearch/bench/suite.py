"""A bench's cells from its config: which (env, strategy) runs, each as a composed `train` config.

A suite (configs/suite/<name>.yaml) lists envs, each with its budget (generations, episodes) and
train overrides, and strategies, each with its layout (num_particles x pop_size) and overrides.
Every strategy must use the suite's `evaluations_per_generation`: the same budget per generation
and the same generations per env for everybody. Every check here runs before anything compiles.
"""

from __future__ import annotations

import dataclasses
import functools
import os

from omegaconf import DictConfig, OmegaConf

from ..cli import CONFIG_DIR, UsageError

# train keys a cell's config may differ in from the saved one and still count as the same cell
IGNORED_WHEN_MATCHING = ("logger", "progress", "report", "resume", "out_dir", "checkpoint_every")


@dataclasses.dataclass(frozen=True)
class Cell:
    env: str
    strategy: str
    run_dir: str
    config: dict  # the fully resolved train config of the cell

    @property
    def name(self) -> str:
        return f"{self.env}/{self.strategy}"


def _options(group: str) -> list[str]:
    folder = os.path.join(CONFIG_DIR, group)
    return sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".yaml")) if os.path.isdir(folder) else []


def _select(requested, available: list[str], key: str, singular: str) -> list[str]:
    """The requested subset (in the requested order), or all; unknown names are a UsageError."""
    if requested is None:
        return list(available)
    names = [str(n) for n in (requested if isinstance(requested, (list, tuple)) or OmegaConf.is_list(requested)
                              else [requested])]
    bad = [n for n in names if n not in available]
    if bad or not names or len(set(names)) != len(names):
        what = f"unknown {singular} {bad[0]!r}" if bad else f"{key}={names!r} must name distinct entries"
        raise UsageError(f"{what}; allowed {key}: {', '.join(available)}")
    return names


def _positive(value, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{key}={value!r} is invalid: must be an integer >= 1")
    return int(value)


def _flatten(tree, prefix: str = "") -> dict:
    """{"strategy": {"sigma_init": 0.1}} -> {"strategy.sigma_init": 0.1} (lists stay values)."""
    out = {}
    for k, v in (tree or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def compose_train(overrides: list[str]) -> DictConfig:
    """The train config for group overrides (env=..., strategy=...), as the train CLI composes it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():  # inside the bench's Hydra app: same config dir
        return compose(config_name="train", overrides=overrides)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def cell_config(suite: dict, env: str, strategy: str, seeds: int, run_dir: str, bench: dict) -> dict:
    """The resolved train config of one cell (raises UsageError for a bad key or value)."""
    e, s = suite["envs"][env], suite["strategies"][strategy]
    logger = bench["logger"]
    cfg = compose_train([f"env={env}", f"strategy={s.get('config') or strategy}",
                         f"logger={logger['name']}"])
    values = {
        "seeds": seeds, "generations": e["generations"], "episodes": e["episodes"],
        "early_stop": False, "progress": False, "report": bool(bench["report_figures"]), "out_dir": run_dir,
        "strategy.num_particles": s["num_particles"], "strategy.pop_size": s["pop_size"],
        **_flatten(suite.get("train")), **_flatten(e.get("overrides")), **_flatten(s.get("overrides")),
        **_flatten((e.get("strategy_overrides") or {}).get(strategy)),
        **{f"logger.{k}": v for k, v in logger.items()},
    }
    if logger["name"] == "wandb":  # one W&B run per cell, grouped by bench, tagged by cell
        values["logger.group"] = logger.get("group") or f"bench-{suite['name']}"
        values["logger.tags"] = [*(logger.get("tags") or []), env, strategy]
    for key, value in values.items():
        try:
            OmegaConf.update(cfg, key, value, merge=False)
        except Exception as exc:  # noqa: BLE001 - an unknown key in the suite (struct config)
            raise UsageError(f"suite {suite['name']!r}, cell {env}/{strategy}: cannot set {key}={value!r} "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    return OmegaConf.to_container(cfg, resolve=True)


def plan(cfg: DictConfig) -> tuple[dict, list[str], list[str], int, list[Cell]]:
    """(suite, envs, strategies, seeds, cells) of a bench config; every check before compiling."""
    bench = OmegaConf.to_container(cfg, resolve=True)
    suite = bench["suite"]
    for key in ("name", "envs", "strategies", "evaluations_per_generation"):
        if not suite.get(key):
            raise UsageError(f"suite {suite.get('name')!r} has no {key!r}; see docs/bench.md")
    env_names = _select(cfg.get("envs"), list(suite["envs"]), "envs", "env")
    strategies = _select(cfg.get("strategies"), list(suite["strategies"]), "strategies", "strategy")
    seeds = _positive(bench["seeds"] if bench.get("seeds") is not None else suite.get("seeds", 20), "seeds")
    _positive(bench["bootstrap_reps"], "bootstrap_reps")
    budget = _positive(suite["evaluations_per_generation"], "suite.evaluations_per_generation")
    env_options, strategy_options = _options("env"), _options("strategy")
    for env in env_names:
        if env not in env_options:
            raise UsageError(f"suite {suite['name']!r}: env {env!r} has no configs/env/{env}.yaml; "
                             f"allowed: {', '.join(env_options)}")
        for key in ("generations", "episodes"):
            _positive(suite["envs"][env].get(key), f"suite.envs.{env}.{key}")
    for name in strategies:
        s = suite["strategies"][name]
        config = s.get("config") or name
        if config not in strategy_options:
            raise UsageError(f"strategy {name!r} has no configs/strategy/{config}.yaml; "
                             f"allowed: {', '.join(strategy_options)}")
        n, m = (_positive(s.get(k), f"suite.strategies.{name}.{k}") for k in ("num_particles", "pop_size"))
        if n * m != budget:
            raise UsageError(f"strategy {name!r}: layout {n} x {m} = {n * m} evaluations per generation, "
                             f"but suite {suite['name']!r} gives every strategy {budget}")
    root = str(bench["out_dir"])
    cells = [Cell(env, name, os.path.join(root, "cells", env, name),
                  cell_config(suite, env, name, seeds, os.path.join(root, "cells", env, name), bench))
             for env in env_names for name in strategies]
    return suite, env_names, strategies, seeds, cells


def differences(saved: dict, wanted: dict, prefix: str = "", defaults: dict | None = None) -> list[str]:
    """Keys (dotted) whose values differ between two resolved configs, ignoring run plumbing.

    A key missing from `saved` (a run made before the key existed) counts as its value in
    `defaults` (the train config's defaults), so that adding a config key with a default that
    keeps the old behaviour does not orphan finished cells.
    """
    out = []
    defaults = defaults or {}
    for key in sorted(set(saved) | set(wanted)):
        if not prefix and key in IGNORED_WHEN_MATCHING:
            continue
        a, b = saved.get(key, defaults.get(key)), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            sub = defaults.get(key) if isinstance(defaults.get(key), dict) else None
            out += differences(a, b, f"{prefix}{key}.", sub)
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


@functools.lru_cache(maxsize=1)
def train_defaults() -> dict:
    """The train config's defaults (no overrides), resolved; missing keys of old cells read these."""
    cfg = compose_train(["out_dir=."])
    return OmegaConf.to_container(cfg, resolve=True)
