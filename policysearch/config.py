"""From a Hydra config to the objects of a run, validating every value before any compilation.

Every bad value raises `ConfigError` with one line naming the value and what is allowed.
Strategy config keys are routed automatically: keys that are fields of the strategy's numeric
`params` go there (traced: changing them does not recompile), the others are static options
of the strategy's constructor.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .cli import UsageError, prepare_out_dir

# keys that may differ between a run and its resume
RESUME_CHANGEABLE = ("resume", "generations", "logger", "report", "progress", "early_stop",
                     "early_stop_margin", "early_stop_behaviours", "checkpoint_every")
STRATEGY_SIZE_KEYS = ("name", "num_particles", "pop_size")
# static keys that decide which numeric params a strategy has (evosax: the algorithm)
PARAMS_SHAPING_KEYS = ("algorithm",)
# The main job's defaults where they differ from the library's (which the density CLI and the
# evosax parity keep): SV-CMA-ES's repulsion capped at one CMA mean step and Liu & Wang's
# bandwidth (RESULTS.md "Function-space repulsion ..." and "MountainCar seeds experiment").
RL_STRATEGY_DEFAULTS = {"sv_cma_es": {"repulsion_clip": 1.0, "bandwidth_scale": 1.0}}


class ConfigError(UsageError):
    """A bad configuration value (one line, raised before compilation)."""


@dataclasses.dataclass
class RunSpec:
    env: Any
    env_name: str
    env_kwargs: dict
    policy: Any
    strategy: Any
    strategy_name: str
    strategy_params: Any
    run_dir: str
    resuming: bool
    num_seeds: int
    seed_offset: int
    generations: int
    episodes: int
    chunk: int
    early_stop: bool
    early_stop_margin: float
    validation_episodes: int
    init_scale: float
    solve_threshold: float
    write_report: bool
    progress_bar: bool
    checkpoint_every: int
    archive_spec: Any = None  # qd.ArchiveSpec of the per-seed QD archive, None without one
    early_stop_behaviours: int = 0  # > 0: early stop also needs this many solving archive cells per seed


    @property
    def evals_per_generation(self) -> int:
        return self.strategy.num_particles * self.strategy.pop_size


def _positive_int(cfg, key: str, minimum: int = 1) -> int:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}={value!r} is invalid: must be an integer >= {minimum}")
    return int(value)


def _finite(cfg, key: str, positive: bool = False) -> float:
    value = OmegaConf.select(cfg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key}={value!r} is invalid: must be a finite number")
    if positive and value <= 0:
        raise ConfigError(f"{key}={value!r} is invalid: must be > 0")
    return float(value)


def make_env(env_cfg) -> Any:
    import envs

    kwargs = OmegaConf.to_container(env_cfg.get("kwargs", None) or OmegaConf.create({}), resolve=True)
    try:
        return envs.make(str(env_cfg.name), **kwargs)
    except (ValueError, TypeError, ImportError) as exc:
        raise ConfigError(f"env.name: {exc}") from None


def make_policy(policy_cfg, env, default_normalize: bool = False):
    from .policy import MLPPolicy

    if policy_cfg.get("name", "mlp") != "mlp":
        raise ConfigError(f"policy.name={policy_cfg.name!r} is invalid; allowed: mlp")
    hidden = list(policy_cfg.get("hidden_sizes", [16]))
    if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
        raise ConfigError(f"policy.hidden_sizes={hidden!r} is invalid: must be positive integers")
    try:
        normalize = policy_cfg.get("normalize_observations", None)
        if normalize is None:
            normalize = default_normalize
        return MLPPolicy.for_env(env, hidden_sizes=hidden, activation=policy_cfg.get("activation", "tanh"),
                                 normalize_observations=bool(normalize))
    except ValueError as exc:
        raise ConfigError(f"policy: {exc}") from None


def _replace_nested(struct_, values: dict, prefix: str):
    """``struct_.replace(**values)`` (nulls dropped), each key a field and each value a number."""
    names = [f.name for f in dataclasses.fields(struct_)]
    values = {k: v for k, v in values.items() if v is not None}
    for k, v in values.items():
        if k not in names:
            raise ConfigError(f"{prefix}.{k} is not a parameter here; valid: {', '.join(names) or '(none)'}")
        if not isinstance(v, (int, float)):  # bools pass: flags such as DifferentialEvolution's elitism
            raise ConfigError(f"{prefix}.{k}={v!r} is invalid: must be a number")
    return struct_.replace(**values)


def make_strategy(strategy_cfg, dim: int, generations: int | None = None):
    """(strategy, params) from a strategy config group entry and the search dimension.

    null values mean "the library default". `num_generations` (the gamma(t) horizon) defaults
    to the run's number of generations; a strategy's `resolve_config` turns schedule values tied
    to the run's length (GENNES's `anneal: budget`) into numbers.
    """
    from . import strategies

    s = OmegaConf.to_container(strategy_cfg, resolve=True) if isinstance(strategy_cfg, DictConfig) \
        else dict(strategy_cfg)
    name = s.get("name")
    num_particles = s.get("num_particles")
    pop_size = s.get("pop_size")
    extra = {k: v for k, v in s.items() if k not in STRATEGY_SIZE_KEYS and v is not None}
    try:
        probe_static = {k: extra[k] for k in PARAMS_SHAPING_KEYS if k in extra}
        probe = strategies.make(name, num_particles=num_particles, pop_size=pop_size, dim=dim, **probe_static)
        fields = {f.name for f in dataclasses.fields(probe.default_params)}
        static = {k: v for k, v in extra.items() if k not in fields}
        numeric = {k: v for k, v in extra.items() if k in fields}
        if hasattr(probe, "resolve_config"):  # e.g. GENNES's anneal: budget (from the generations)
            numeric = probe.resolve_config(numeric, generations)
        for k, v in numeric.items():
            if isinstance(v, dict):  # a nested params struct: evosax's Params (strategy.params.<field>)
                numeric[k] = _replace_nested(getattr(probe.default_params, k), v, f"strategy.{k}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"strategy.{k}={v!r} is invalid: must be a number")
        if generations is not None and "num_generations" in fields:
            numeric.setdefault("num_generations", float(generations))
        for k, v in RL_STRATEGY_DEFAULTS.get(name, {}).items():  # RL-only defaults (null in the yaml)
            numeric.setdefault(k, v)
        strategy = strategies.make(name, num_particles=num_particles, pop_size=pop_size, dim=dim, **static) \
            if static else probe
        params = strategy.default_params.replace(**numeric)
        if hasattr(strategy, "check_params"):
            strategy.check_params(params)
    except ConfigError:
        raise
    except TypeError as exc:
        raise ConfigError(f"strategy {name!r}: unknown option ({exc})") from None
    except ValueError as exc:
        raise ConfigError(f"strategy.{exc}" if not str(exc).startswith("unknown") else str(exc)) from None
    return strategy, params


def make_archive_spec(cfg, env):
    """The run's QD archive from the `qd:` block (docs/qd.md); None when off or the env has no
    behaviour descriptor (a one-line warning then)."""
    import sys

    from .qd import archive_spec

    qd = cfg.get("qd", None)
    if qd is None or not qd.get("enabled", True):
        return None
    if not getattr(env, "descriptor_names", ()):
        print(f"warning: env {env.name!r} defines no behaviour descriptor; the run has no QD archive",
              file=sys.stderr)
        return None
    names = qd.get("descriptors", None)
    if names is not None and not isinstance(names, str):
        names = list(names)
    elif isinstance(names, str):
        names = [names]
    try:
        return archive_spec(env, qd.get("cells", 1024), names)
    except ValueError as exc:
        raise ConfigError(f"qd.{exc}") from None


def build(cfg: DictConfig) -> RunSpec:
    """Validate `cfg` and build the run's objects (no compilation happens here)."""
    num_seeds = _positive_int(cfg, "seeds")
    generations = _positive_int(cfg, "generations")
    episodes = _positive_int(cfg, "episodes")
    chunk = _positive_int(cfg, "chunk")
    validation_episodes = _positive_int(cfg, "validation_episodes")
    checkpoint_every = _positive_int(cfg, "checkpoint_every")
    seed_offset = _positive_int(cfg, "seed_offset", minimum=0)
    init_scale = _finite(cfg, "init_scale", positive=True)
    solve_threshold = _finite(cfg, "env.solve_threshold")
    env = make_env(cfg.env)
    policy = make_policy(cfg.policy, env, bool(cfg.env.get("normalize_observations", False)))
    strategy, params = make_strategy(cfg.strategy, policy.num_params, generations)
    archive = make_archive_spec(cfg, env)
    behaviours = _positive_int(cfg, "early_stop_behaviours", minimum=0) if "early_stop_behaviours" in cfg else 0
    if behaviours and archive is None:
        raise ConfigError(f"early_stop_behaviours={behaviours} counts solving cells of the QD archive, but this run "
                          "has none; allowed: 0, or qd.enabled=true on an env with a behaviour descriptor")
    if archive is not None and behaviours > archive.cells:
        raise ConfigError(f"early_stop_behaviours={behaviours} is invalid: the archive has {archive.cells} cells "
                          f"(qd.cells); allowed: 0 .. {archive.cells}")
    if getattr(strategy, "needs_gradients", False):
        raise ConfigError(f"strategy {cfg.strategy.name!r} needs gradients of the objective and episode returns "
                          "have none; use a gradient-free strategy (sv_cma_es, cma_es, mp_cma_es, svgd)")
    from .memory import check_fits

    problem = check_fits(num_seeds, strategy.num_particles, policy.num_params,
                         full_covariance=hasattr(strategy, "sigmas") and hasattr(strategy, "eigen_interval"))
    if problem:
        raise ConfigError(problem)
    logger = OmegaConf.select(cfg, "logger.name")
    if logger not in ("none", "wandb"):
        raise ConfigError(f"logger.name={logger!r} is invalid; allowed: none, wandb")
    mode = OmegaConf.select(cfg, "logger.mode")
    if logger == "wandb" and mode not in ("offline", "online", "disabled"):
        raise ConfigError(f"logger.mode={mode!r} is invalid; allowed: offline, online, disabled")
    resuming = cfg.get("resume") not in (None, "")
    run_dir = str(cfg.resume if resuming else (cfg.out_dir or ""))
    if not run_dir:
        raise ConfigError("out_dir is empty; give a directory for the run")
    if not resuming and os.path.exists(os.path.join(run_dir, "summary.json")):
        raise ConfigError(f"out_dir={run_dir!r} already holds a finished run; choose another out_dir")
    try:
        prepare_out_dir(run_dir, "resume" if resuming else "out_dir")
    except UsageError as exc:
        raise ConfigError(str(exc)) from None
    return RunSpec(
        env=env, env_name=str(cfg.env.name), policy=policy,
        env_kwargs=OmegaConf.to_container(cfg.env.get("kwargs", None) or OmegaConf.create({}), resolve=True), strategy=strategy,
        strategy_name=str(cfg.strategy.name), strategy_params=params, run_dir=run_dir,
        resuming=resuming, num_seeds=num_seeds, seed_offset=seed_offset, generations=generations,
        episodes=episodes, chunk=chunk, early_stop=bool(cfg.early_stop),
        early_stop_margin=_finite(cfg, "early_stop_margin"),
        validation_episodes=validation_episodes, init_scale=init_scale,
        solve_threshold=solve_threshold, write_report=bool(cfg.report),
        progress_bar=bool(cfg.progress), checkpoint_every=checkpoint_every,
        archive_spec=archive, early_stop_behaviours=behaviours,
    )


def overridden_keys(overrides: list[str], prefix: str) -> set[str]:
    """Keys under `prefix` (e.g. "strategy") that command-line overrides set, without the prefix."""
    keys = set()
    for ov in overrides:
        key = ov.lstrip("+~").split("=", 1)[0]
        if key.startswith(prefix + "."):
            keys.add(key[len(prefix) + 1:].split(".", 1)[0])
    return keys


def apply_strategy_defaults(cfg: DictConfig, defaults, overrides: list[str]) -> dict:
    """Fill `cfg.strategy` from a problem's per-strategy defaults, except keys the user set.

    `defaults` maps a strategy name to {key: value} (a target's `strategy_defaults` block in
    configs/target/*.yaml; docs/density.md says where the values come from). For svgd the entry
    `svgd_<source>` (e.g. svgd_autodiff) wins over `svgd` when the source is not `es`. Keys set
    on the command line (`strategy.<key>=...`) are left alone; returns {key: value} applied.
    """
    from omegaconf import open_dict

    if not defaults:
        return {}
    defaults = OmegaConf.to_container(defaults, resolve=True) if isinstance(defaults, DictConfig) else dict(defaults)
    name = str(cfg.strategy.get("name"))
    source = cfg.strategy.get("source")
    entry = defaults.get(f"{name}_{source}") if source not in (None, "es") else None
    entry = entry if entry is not None else defaults.get(name)
    if not entry:
        return {}
    user = overridden_keys(overrides, "strategy")
    applied = {k: v for k, v in entry.items() if k not in user and k != "name"}
    with open_dict(cfg):
        for k, v in applied.items():
            cfg.strategy[k] = v
    return applied
