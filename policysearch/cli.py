"""Command-line plumbing shared by every entry point: where the configs are, one-line errors.

Configs (the mechanism every CLI uses; add nothing else to ship a new one)
    The Hydra configs live in `configs/` at the top of the repository (the project layout).
    setup.py maps the package `policysearch.configs` onto that folder, so a wheel, `pip install .`
    or a git-URL install carries them as package data in `site-packages/policysearch/configs/`.
    `CONFIG_DIR` is that installed copy when it exists, else the checkout's `configs/` (editable
    installs, a plain checkout). Declare a Hydra entry point with `@hydra_app("<config name>")`
    (never `hydra.main(config_path="../configs")`, which only works inside a checkout); a new
    CLI then only adds `configs/<name>.yaml` and its groups `configs/<group>/*.yaml`, which
    setup.py picks up by itself (tests/test_install.py installs a wheel and runs the CLIs).

Errors (one line, exit 2, no traceback, before any compilation)
    Raise `UsageError` (or a subclass: config.ConfigError, checkpoint.CheckpointError) for bad
    input; `hydra_app` prints `error: <message>` and exits 2 (in a Hydra multirun it re-raises so
    the sweeper marks the job failed, and gives every job its own `out_dir`, `per_job_out_dir`).
    `hydra_app` also turns on the persistent JAX compile cache before the task runs. Hydra's own composition errors (unknown group option,
    unknown key, bad override syntax) become the same one line. argparse CLIs use
    `ArgumentParser` from here; `prepare_out_dir` checks an output directory the same way.

Help (`--help` lists the CLI's own options only)
    All configs share one folder, so Hydra's listing would show every CLI's groups. `hydra_app`
    lists only the groups the CLI's config composes (its defaults list, plus `+group=` on the
    command line), plus `help_groups` (groups used with `+group=...`, e.g. train's `sweep`);
    `help_option(group, option_cfg) -> bool` hides options that do not apply
    (`gradient_free_strategies`: train and sample hide strategies that need gradients of the
    objective); `help_extra() -> str` adds text, e.g. the BTGM cases and criteria (registries that
    are not config groups). A new CLI gets the rule with no arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import tempfile

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _config_dir() -> str:
    installed = os.path.join(_PACKAGE_DIR, "configs")
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(_PACKAGE_DIR), "configs")


CONFIG_DIR = _config_dir()


class UsageError(ValueError):
    """Bad input from the user: reported as one `error:` line with exit code 2."""


def fail(message: str, code: int = 2):
    """Print `error: message` (on one line) to stderr and exit."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    sys.exit(code)


def one_line(text: str) -> str:
    return "; ".join(part.strip() for part in str(text).strip().splitlines() if part.strip())


def prepare_out_dir(path, key: str = "out_dir") -> str:
    """Create the output directory (and parents) and check it is writable, or raise UsageError."""
    path = str(path) if path is not None else ""
    if not path:
        raise UsageError(f"{key} is empty; give a directory for the run")
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{key}={path!r} is an existing file, not a directory; choose another {key}")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write_probe"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"{key}={path!r} cannot be written ({reason}); choose a writable directory") from None
    return path


def task_overrides() -> list[str]:
    """The command-line overrides of the running Hydra job ([] outside Hydra)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except Exception:  # noqa: BLE001 - not under Hydra (direct call from Python)
        return []


def _is_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:  # noqa: BLE001
        return False


@contextlib.contextmanager
def _absl_stream_kept():
    """Hydra reconfigures logging, which closes every handler; absl's handler then closes its
    stream unless that is the current sys.stderr. When absl was imported under another stderr
    (an earlier test's capture, in-process calls), point it at the current one meanwhile."""
    absl = sys.modules.get("absl.logging")
    handler = absl.get_absl_handler().python_handler if absl else None
    old = handler.stream if handler else None
    if handler:
        handler.stream = sys.stderr
    try:
        yield
    finally:
        if handler:
            handler.stream = old


def _enable_compile_cache() -> None:
    try:
        from . import compile_cache

        compile_cache.enable()
    except Exception:  # noqa: BLE001 - the cache is an optimisation only
        pass


def per_job_out_dir(cfg) -> None:
    """In a Hydra multirun, give every job its own `out_dir` (the sweep's job folder) unless the
    command line sets one: a time-stamped default would collide for jobs started in one second."""
    if not _is_multirun() or "out_dir" not in cfg:
        return
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    hc = HydraConfig.get()
    if not any(o.lstrip("+~").split("=", 1)[0] == "out_dir" for o in hc.overrides.task):
        with open_dict(cfg):
            cfg.out_dir = f"{hc.sweep.dir}/{hc.sweep.subdir}"


def _hydra_message(exc: BaseException) -> str:
    text = str(exc).split("Config search path")[0]  # Hydra's search path listing: noise here
    if "Available options" in text:  # unknown group option: "...; allowed: a, b, c"
        head, _, options = text.partition("Available options")
        group = options.split(":", 1)[0].strip()
        names = [n.strip() for n in options.split(":", 1)[1].split() if n.strip()]
        text = f"{one_line(head)}; allowed {group}: {', '.join(names)}"
    msg = one_line(text) or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        first = str(cause).strip().splitlines()[0]
        if first not in msg:
            msg = f"{msg} ({first.strip()})"
    return msg


def gradient_free_strategies(group: str, option_cfg) -> bool:
    """`help_option` rule: hide the strategies that need gradients of the objective (GENNES), which
    neither episode returns (train) nor the density sampler (sample) provide."""
    if group != "strategy":
        return True
    from .strategies import needs_gradients

    return not needs_gradients(str(option_cfg.get("name", "")))


def _option_cfg(group: str, option: str, depth: int = 0):
    """The option's yaml from CONFIG_DIR as a DictConfig, over the same-group options its
    `defaults` list names (e.g. strategy/open_es.yaml extends evosax.yaml); empty when it
    cannot be read."""
    from omegaconf import DictConfig, OmegaConf

    try:
        cfg = OmegaConf.load(os.path.join(CONFIG_DIR, group, f"{option}.yaml"))
    except Exception:  # noqa: BLE001 - a listing never fails on one odd file
        return OmegaConf.create()
    if not isinstance(cfg, DictConfig):
        return OmegaConf.create()
    parents = [d for d in cfg.pop("defaults", []) if isinstance(d, str) and d != "_self_"]
    if parents and depth < 8:
        cfg = OmegaConf.merge(*[_option_cfg(group, d, depth + 1) for d in parents], cfg)
    return cfg


def format_help_groups(choices, list_options, extra_groups=(), option_rule=None) -> str:
    """The `== Configuration groups ==` body of one CLI's `--help`: `group: a, b, c` lines for
    the groups in `choices` (the composed config's `hydra.runtime.choices`; Hydra's own groups
    left out) and `extra_groups`, with the options (`list_options(group)`) that
    `option_rule(group, option_cfg)` keeps."""
    groups = {g for g in choices if g != "hydra" and not g.startswith("hydra/")} | set(extra_groups)
    lines = []
    for group in sorted(groups):
        options = sorted(o for o in list_options(group)
                         if option_rule is None or option_rule(group, _option_cfg(group, o)))
        lines.append(f"{group}: {', '.join(options)}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _own_help(extra_groups, option_rule, extra_text):
    """While Hydra prints `--help`: list this CLI's groups only (`format_help_groups`) and add
    `extra_text()`. Hydra 1.3 (pinned) builds the listing in `Hydra.format_config_groups`."""
    from hydra._internal.hydra import Hydra
    from hydra.core.hydra_config import HydraConfig

    original = Hydra.format_config_groups

    def format_config_groups(self, predicate, compact=True):
        if predicate("hydra/help"):  # --hydra-help: Hydra's own groups, unchanged
            return original(self, predicate, compact)
        choices = HydraConfig.get().runtime.choices
        text = format_help_groups(choices, self.config_loader.get_group_options, extra_groups, option_rule)
        return text + (f"\n{extra_text().rstrip()}\n" if extra_text is not None else "")

    Hydra.format_config_groups = format_config_groups
    try:
        yield
    finally:
        Hydra.format_config_groups = original


def hydra_app(config_name: str, help_groups: tuple = (), help_option=None, help_extra=None):
    """`hydra.main` on CONFIG_DIR/<config_name>.yaml with the project's one-line errors.

    The decorated task gets the composed config; its UsageError becomes `error: ...` + exit 2.
    Calling the entry point with a config (`main(cfg)`) runs the task directly, as hydra.main does.
    `--help` lists this CLI's groups only (module docstring, "Help"): `help_groups`: groups it
    uses besides its defaults list; `help_option(group, option_cfg) -> bool`: options to show;
    `help_extra() -> str`: text added after the groups.
    """
    import hydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    def decorate(task):
        @functools.wraps(task)
        def guarded(cfg):
            per_job_out_dir(cfg)
            _enable_compile_cache()
            try:
                return task(cfg)
            except UsageError as exc:
                if _is_multirun():  # let the sweeper mark this job failed; the sweep goes on
                    raise
                fail(str(exc))

        app = hydra.main(config_path=CONFIG_DIR, config_name=config_name, version_base="1.3")(guarded)

        @functools.wraps(task)
        def entry(cfg=None):
            if cfg is not None:
                return guarded(cfg)
            previous = os.environ.get("HYDRA_FULL_ERROR")
            os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises instead of printing its own lines
            asks_help = any(a in ("--help", "-h") for a in sys.argv[1:])
            helping = _own_help(help_groups, help_option, help_extra) if asks_help else contextlib.nullcontext()
            try:
                with _absl_stream_kept(), helping:
                    return app()
            except (HydraException, OmegaConfBaseException) as exc:
                if previous == "1":  # the user asked for Hydra's full traceback
                    raise
                fail(_hydra_message(exc))
            finally:
                if previous is None:
                    os.environ.pop("HYDRA_FULL_ERROR", None)
                else:
                    os.environ["HYDRA_FULL_ERROR"] = previous

        entry.config_name = config_name
        return entry

    return decorate


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the project's error format: one `error:` line, exit 2 (no usage dump)."""

    def error(self, message):
        fail(f"{self.prog}: {message}")
