"""Each CLI's `--help` lists its own config groups and the options that apply to it only
(policysearch/cli.py, "Help"); in-process, as `python -m <module> --help` runs it."""

import importlib
import os
import sys

import pytest

from policysearch import strategies
from policysearch.cli import CONFIG_DIR, format_help_groups, gradient_free_strategies

ALL_STRATEGIES = sorted(f[:-5] for f in os.listdir(os.path.join(CONFIG_DIR, "strategy")) if f.endswith(".yaml"))


def _help(module: str, monkeypatch, capsys, *overrides) -> tuple[dict, str]:
    """({group: [options]}, full text) of `python -m <module> [overrides] --help`."""
    main = importlib.import_module(module).main
    monkeypatch.setattr(sys, "argv", [module, *overrides, "--help"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code in (0, None)
    text = capsys.readouterr().out
    body = text.split("== Configuration groups ==", 1)[1].split("== Config ==", 1)[0]
    groups = {}
    for line in body.splitlines()[1:]:  # the first line is Hydra's "Compose your configuration ..."
        if line and not line.startswith(" ") and ": " in line:
            name, options = line.split(": ", 1)
            if " " not in name:
                groups[name] = [o.strip() for o in options.split(",")]
    return groups, text


def _strategy_name(option: str) -> str:
    from omegaconf import OmegaConf

    return str(OmegaConf.load(os.path.join(CONFIG_DIR, "strategy", f"{option}.yaml")).get("name", option))


def test_train_help_lists_policy_groups_and_gradient_free_strategies(monkeypatch, capsys):
    groups, _ = _help("policysearch.train", monkeypatch, capsys)
    assert {"env", "strategy", "policy", "logger", "sweep"} <= set(groups)
    assert not {"btgm", "target", "suite"} & set(groups)
    assert {"sv_cma_es", "cma_es", "mp_cma_es", "svgd"} <= set(groups["strategy"])
    assert "gennes" not in groups["strategy"]
    # the rule, not a list: every strategy config that needs no gradients is shown, no other
    assert groups["strategy"] == [s for s in ALL_STRATEGIES if not strategies.needs_gradients(_strategy_name(s))]
    assert "mountaincar" in groups["env"]


def test_sample_and_optimize_help(monkeypatch, capsys):
    groups, _ = _help("policysearch.sample", monkeypatch, capsys)
    assert {"target", "strategy"} <= set(groups)
    assert not {"env", "btgm", "policy", "sweep"} & set(groups)
    assert "gennes" not in groups["strategy"] and "sv_cma_es" in groups["strategy"]
    groups, _ = _help("policysearch.optimize", monkeypatch, capsys)
    assert set(groups) == {"strategy"}
    assert groups["strategy"] == ALL_STRATEGIES  # gennes's own CLI: every strategy
    # a group added on the command line is listed with the rest
    groups, _ = _help("policysearch.sample", monkeypatch, capsys, "+sweep=local")
    assert "sweep" in groups


def test_btgm_help_lists_its_cases_and_criteria(monkeypatch, capsys):
    groups, text = _help("policysearch.btgm.__main__", monkeypatch, capsys)
    assert set(groups) == {"btgm"} and "default" in groups["btgm"]
    for absent in ("env:", "strategy:", "target:", "sweep:"):
        assert absent not in text.split("== Config ==")[0]
    assert "gauss2d: linear, quadratic, threshold*" in text
    for case in ("digits", "digits_adversarial", "energy"):
        assert f"  {case}: " in text
    assert "log_class" in text and "hours_above*" in text


@pytest.mark.skipif(not os.path.exists(os.path.join(CONFIG_DIR, "bench.yaml")), reason="no bench CLI")
def test_bench_help_lists_its_own_groups(monkeypatch, capsys):
    groups, _ = _help("policysearch.bench.cli", monkeypatch, capsys, "suite=smoke")
    assert "suite" in groups
    assert not {"env", "strategy", "btgm", "target", "policy"} & set(groups)


def test_help_rule_is_generic():
    """Groups come from the composed choices (Hydra's own left out) plus declared extras;
    options from a per-CLI rule on each option's config."""
    listing = {"strategy": ["a_es", "b_grad"], "env": ["x"], "hydra/launcher": ["basic"]}
    text = format_help_groups({"strategy": "a_es", "hydra/launcher": "basic"}, listing.__getitem__,
                              ("env",), lambda g, c: True)
    assert text == "env: x\nstrategy: a_es, b_grad\n"
    assert gradient_free_strategies("strategy", {"name": "gennes"}) is False
    assert gradient_free_strategies("strategy", {"name": "some_new_es"}) is True  # unknown: shown
    assert gradient_free_strategies("env", {"name": "gennes"}) is True


def test_option_rule_sees_an_option_config_composed_from_its_defaults(tmp_path, monkeypatch):
    from policysearch import cli

    (tmp_path / "strategy").mkdir()
    (tmp_path / "strategy" / "base_grad.yaml").write_text("name: gennes\npop_size: 20\n")
    (tmp_path / "strategy" / "child.yaml").write_text("defaults:\n  - base_grad\npop_size: 4\n")
    monkeypatch.setattr(cli, "CONFIG_DIR", str(tmp_path))
    cfg = cli._option_cfg("strategy", "child")
    assert cfg.name == "gennes" and cfg.pop_size == 4
    assert format_help_groups({"strategy": "child"}, lambda g: ["child"], (), gradient_free_strategies) \
        == "strategy: \n"
