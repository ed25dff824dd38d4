"""experiments/mountaincar_seeds.py: equal budgets, the numbers of its table, and a smoke run.

The smoke run uses ``--quick`` (3 seeds, 3 generations, 4 x 4 layout, MLP 2-4-1) on one regime
and two strategies to stay well under a minute; every regime x strategy pair is still composed
and validated through the training config without compiling (test_equal_budget_...).
"""

import importlib.util
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    spec = importlib.util.spec_from_file_location(
        "mountaincar_seeds", os.path.join(ROOT, "experiments", "mountaincar_seeds.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


ms = _load()


@pytest.mark.parametrize("quick", [False, True])
@pytest.mark.parametrize("regime", sorted(ms.REGIMES))
def test_equal_budget_and_overrides_are_valid_training_configs(regime, quick, tmp_path):
    from policysearch import config as run_config

    r = ms.REGIMES[regime]
    r = ms.quick_regime(r) if quick else r
    budgets = {}
    for s in ms.STRATEGIES:
        cfg = ms.compose(ms.run_overrides(s, r, 20, str(tmp_path / s)))
        spec = run_config.build(cfg)  # validates every value; compiles nothing
        assert ms.strategy_overrides(s, r)[0] == f"strategy={spec.strategy_name}"  # variants: sv_cma_es
        assert getattr(spec.strategy, "kernel_space", "parameters") == ("actions" if "_actions" in s else "parameters")
        assert spec.episodes == r.episodes and spec.generations == r.generations
        assert spec.num_seeds == 20 and not spec.early_stop and spec.validation_episodes == r.validation_episodes
        sigma = spec.strategy_params.sigma if s == "svgd" else spec.strategy_params.sigma_init
        assert float(sigma) == pytest.approx(r.sigma)
        budgets[s] = spec.evals_per_generation
        if s == "cma_es":
            assert spec.strategy.num_particles == 1
        else:
            assert (spec.strategy.num_particles, spec.strategy.pop_size) == (r.particles, r.offspring)
    assert set(budgets.values()) == {r.evals_per_generation}


def test_default_regimes_match_the_reference_facts():
    ref = ms.REGIMES["reference"]
    assert (ref.particles, ref.offspring, ref.sigma, ref.episodes, ref.hidden) == (16, 16, 0.5, 4, (16,))
    assert ref.evals_per_generation == 256 and ms.REGIMES["hard"].evals_per_generation == 256
    assert ms.DEFAULT_REGIMES == ("reference", "hard")


def test_median_evaluations_counts_unsolved_seeds_as_never():
    assert ms.median_all_seeds([256, 512, None], 1000) == 512
    assert ms.median_all_seeds([256, None, None], 1000) is None
    assert ms.median_all_seeds([256, 768, None, None], 1000) is None  # middle pair includes a never
    assert ms.median_all_seeds([256, 768, 1024, None], 1000) == 896


def test_quick_run_end_to_end_and_reuse(tmp_path, capsys):
    out, figs = tmp_path / "out", tmp_path / "figs"
    argv = ["--quick", "--regimes", "hard", "--strategies", "sv_cma_es,cma_es", "--out", str(out),
            "--figures", str(figs), "--date", "2000-01-01"]
    assert ms.main(argv) == 0
    md = (out / "mountaincar_seeds.md").read_text()
    assert "## MountainCar seeds experiment" in md and "date 2000-01-01" in md
    assert "python experiments/mountaincar_seeds.py --quick" in md and "--date" not in md
    assert "| SV-CMA-ES | 4 x 4 | " in md and "| CMA-ES (1 population) | 1 x 16 | " in md
    data = json.loads((out / "mountaincar_seeds.json").read_text())
    (regime,) = data["regimes"]
    assert regime["regime"]["name"] == "hard"
    for row in regime["rows"]:
        assert row["num_seeds"] == 3 and row["generations"] == 3 and row["evaluation_budget"] == 48
        assert 0 <= row["solved"] <= 3 and len(row["per_seed"]) == 3
    for name in ms.FIGURES:
        assert (figs / f"hard_{name}.png").stat().st_size > 0
    assert (out / "hard" / "compare" / "index.html").exists()
    for s in ("sv_cma_es", "cma_es"):
        assert (out / "hard" / s / "report" / "diversity.json").exists()

    # the same command again reuses the finished runs
    capsys.readouterr()
    assert ms.main(argv) == 0
    assert "reused" in capsys.readouterr().out
    assert "2 of 2 runs reused" in (out / "mountaincar_seeds.md").read_text()
    # other settings into the same folder: refused, not silently mixed
    with pytest.raises(SystemExit, match="other settings"):
        ms.main(argv + ["--generations", "2"])
