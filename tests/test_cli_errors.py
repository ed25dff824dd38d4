"""Every entry point's bad input (train, sample, evaluate, report, btgm, optimize, sweeps): exit code 2, ONE `error:` line naming the value, no traceback,
before any compilation (issue 13, part 3).

The table runs each CLI's real entry point in-process (sys.argv patched, the compiling function
replaced by one that fails the test), so ~90 rows cost seconds; a few rows per CLI also run as real
subprocesses to prove the process-level behaviour (stderr, exit status).
"""

from __future__ import annotations

import json
import sys

import pytest
from hydra.core.global_hydra import GlobalHydra

from helpers import TINY, cli

FILE = "@FILE@"     # an existing plain file
DIR = "@DIR@"       # an empty directory (not a run directory)
RUN = "@RUN@"       # a fake finished run directory (policies/policy.json)
TMP = "@TMP@"       # a fresh path under tmp_path

TRAIN = [  # (args, text the one line must contain)
    (["seeds=0"], "seeds=0 is invalid"),
    (["seeds=abc"], "seeds='abc' is invalid"),
    (["seeds=2.5"], "seeds=2.5 is invalid"),
    (["seed_offset=-1"], "seed_offset=-1 is invalid"),
    (["generations=0"], "generations=0 is invalid"),
    (["episodes=-2"], "episodes=-2 is invalid"),
    (["chunk=0"], "chunk=0 is invalid"),
    (["validation_episodes=0"], "validation_episodes=0 is invalid"),
    (["checkpoint_every=0"], "checkpoint_every=0 is invalid"),
    (["init_scale=0"], "init_scale=0 is invalid"),
    (["init_scale=nan"], "init_scale=nan is invalid"),
    (["early_stop_margin=inf"], "early_stop_margin=inf is invalid"),
    (["env.solve_threshold=nan"], "env.solve_threshold=nan is invalid"),
    (["env=nope"], "allowed in 'env': acrobot"),
    (["env.name=Nope-v9"], "unknown env 'Nope-v9'"),
    (["strategy=nope"], "allowed in 'strategy': cma_es"),
    (["strategy.num_particles=1"], "num_particles=1 is invalid"),
    (["strategy.pop_size=0"], "pop_size=0 is invalid"),
    (["strategy.sigma_init=0"], "sigma_init=0"),
    (["strategy.sigma_init=nan"], "sigma_init=nan"),
    (["strategy.sigma_init=abc"], "strategy.sigma_init='abc' is invalid"),
    (["+strategy.nonsense=3"], "unknown option"),
    (["policy.hidden_sizes=[0]"], "hidden_sizes"),
    (["policy.activation=wiggle"], "unknown activation 'wiggle'"),
    (["logger=nope"], "allowed in 'logger': none, wandb"),
    (["logger.name=nope"], "logger.name='nope' is invalid"),
    (["logger=wandb", "logger.mode=bogus"], "logger.mode='bogus' is invalid"),
    (["nonsense=3"], "Could not override 'nonsense'"),
    (["seeds=[1"], "no viable alternative"),
    ([f"out_dir={FILE}"], "is an existing file, not a directory"),
    ([f"out_dir={FILE}/sub"], "cannot be written"),
    (["out_dir=/proc/policysearch_test"], "cannot be written"),
    (["out_dir="], "out_dir is empty"),
    ([f"resume={TMP}/none"], "does not exist"),
    ([f"resume={DIR}"], "has no config.yaml"),
]

SAMPLE = [
    (["seeds=0"], "seeds=0 is invalid"),
    (["seed_offset=-1"], "seed_offset=-1 is invalid"),
    (["evaluations=0"], "evaluations=0 is invalid"),
    (["evaluations=nan"], "evaluations=nan is invalid"),
    (["evaluations=10"], "below one generation"),
    (["records=0"], "records=0 is invalid"),
    (["target=nope"], "allowed in 'target': "),
    (["target.name=nope"], "unknown target 'nope'"),
    (["target=motion_planning", "target.kwargs.num_waypoints=0"], "num_waypoints"),
    (["strategy=nope"], "allowed in 'strategy': "),
    (["strategy.num_particles=1"], "num_particles=1 is invalid"),
    (["strategy.sigma_init=-1"], "sigma_init=-1"),
    (["strategy=svgd", "strategy.source=bogus"], "unknown svgd gradient source 'bogus'"),
    (["ground_truth.n=1"], "ground_truth.n=1 is invalid"),
    (["ground_truth.seed=-1"], "ground_truth.seed=-1 is invalid"),
    ([f"ground_truth.cache_dir={FILE}"], "ground_truth.cache_dir="),
    (["mmd_bandwidth=0"], "mmd_bandwidth=0 is invalid"),
    (["mmd_bandwidth=nan"], "mmd_bandwidth=nan is invalid"),
    (["nonsense=1"], "Could not override 'nonsense'"),
    ([f"out_dir={FILE}"], "is an existing file, not a directory"),
    ([f"out_dir={FILE}/x"], "cannot be written"),
]

EVALUATE = [
    ([f"{TMP}/none"], "does not exist"),
    ([FILE], "is not a directory"),
    ([DIR], "no exported policies"),
    ([RUN, "--episodes", "0"], "--episodes must be >= 1"),
    ([RUN, "--episodes", "abc"], "invalid int value: 'abc'"),
    ([RUN, "--backend", "bogus"], "invalid choice: 'bogus'"),
    ([RUN, "--seed", "-1"], "--seed must be >= 0"),
    ([RUN, "--bogus"], "unrecognized arguments: --bogus"),
    ([], "the following arguments are required: run_dir"),
]

REPORT = [
    ([f"{TMP}/none"], "does not exist"),
    ([FILE], "is not a directory"),
    ([DIR], "is not a finished run directory"),
    ([RUN, "--episodes", "0"], "--episodes must be >= 1"),
    ([RUN, "--out", FILE], "--out="),
    ([RUN, RUN, "--out", FILE], "--out="),
    ([], "the following arguments are required: RUN_DIR"),
]

BTGM = [
    (["case=nope"], "case='nope' is unknown"),
    (["btgm=nope"], "allowed in 'btgm': "),
    (["nonsense=1"], "Could not override 'nonsense'"),
    (["target_kl=1.0", f"out_dir={FILE}"], "is an existing file, not a directory"),
]

OPTIMIZE = [
    (["function=nope"], "function='nope' is unknown"),
    (["dim=0"], "dim=0 is invalid"),
    (["folds=0"], "folds=0 is invalid"),
    (["evaluations=0"], "evaluations=0 is invalid"),
    (["shift=-1"], "shift=-1.0 is invalid"),
    (["init=bogus"], "init='bogus' is invalid"),
    (["init_std=-1"], "init_std=-1 is invalid"),
    (["strategy=cma_es", "init_std=nan"], "init_std=nan is invalid"),
    (["strategy=nope"], "allowed in 'strategy': "),
    (["nonsense=1"], "Could not override 'nonsense'"),
    ([f"out_dir={FILE}"], "is an existing file, not a directory"),
]


SWEEPS = [
    ([], "the following arguments are required: cmd"),
    (["bogus"], "invalid choice: 'bogus'"),
    (["collect"], "the following arguments are required: SWEEP_DIR"),
    (["collect", f"{TMP}/none"], "does not exist"),
    (["collect", DIR], "no finished run directories"),
    (["wandb-command", f"{TMP}/none.yaml"], "No such file"),
    (["wandb-command", FILE], "not a W&B sweep definition"),
    (["wandb-command", "configs/sweep/wandb_sv_cma_es_mountaincar.yaml", "x"], "expected KEY=VALUE, got 'x'"),
    (["wandb-command", "configs/sweep/wandb_sv_cma_es_mountaincar.yaml", "--seed", "abc"], "invalid int value"),
]


@pytest.fixture
def paths(tmp_path):
    (tmp_path / "afile").write_text("not a directory")
    (tmp_path / "empty").mkdir()
    run = tmp_path / "run"
    (run / "policies").mkdir(parents=True)
    (run / "policies" / "policy.json").write_text(json.dumps({"env": "mountaincar", "policy": {}, "seeds": []}))
    subs = {FILE: str(tmp_path / "afile"), DIR: str(tmp_path / "empty"), RUN: str(run), TMP: str(tmp_path)}

    def fill(args):
        out = []
        for a in args:
            for k, v in subs.items():
                a = a.replace(k, v)
            out.append(a)
        return out

    return fill


def _no_compile(*a, **k):
    raise AssertionError("bad input reached compilation")


def _hydra(main, argv, monkeypatch, capsys):
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["prog", *argv])
    try:  # (cli.hydra_app keeps pytest's capture stream alive when Hydra reconfigures logging)
        with pytest.raises(SystemExit) as exc:
            main()
    finally:
        GlobalHydra.instance().clear()
    return exc.value.code, capsys.readouterr().err


def _argparse(main, argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def _assert_one_line(code, err, text):
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and text in lines[0], (text, err)


@pytest.mark.parametrize("args, text", TRAIN, ids=[" ".join(a) for a, _ in TRAIN])
def test_train_bad_input(args, text, paths, tmp_path, monkeypatch, capsys):
    import policysearch.runner
    from policysearch.train import main

    monkeypatch.setattr(policysearch.runner, "make_runner", _no_compile)
    out = [] if any(a.startswith(("out_dir=", "resume=")) for a in args) else [f"out_dir={tmp_path}/r"]
    _assert_one_line(*_hydra(main, paths(TINY + out + args), monkeypatch, capsys), text)


@pytest.mark.parametrize("args, text", SAMPLE, ids=[" ".join(a) for a in (r[0] for r in SAMPLE)])
def test_sample_bad_input(args, text, paths, tmp_path, monkeypatch, capsys):
    import policysearch.density.runner
    from policysearch.sample import main

    monkeypatch.setattr(policysearch.density.runner, "run_method", _no_compile)
    monkeypatch.setenv("POLICYSEARCH_CACHE", str(tmp_path / "gt"))
    out = [] if any(a.startswith("out_dir=") for a in args) else [f"out_dir={tmp_path}/r"]
    _assert_one_line(*_hydra(main, paths(["figures=false"] + out + args), monkeypatch, capsys), text)


@pytest.mark.parametrize("args, text", EVALUATE, ids=[" ".join(a) for a in (r[0] for r in EVALUATE)])
def test_evaluate_bad_input(args, text, paths, monkeypatch, capsys):
    from policysearch import evaluate

    monkeypatch.setattr(evaluate, "evaluate_run", _no_compile)
    _assert_one_line(*_argparse(evaluate.main, paths(args), capsys), text)


@pytest.mark.parametrize("args, text", REPORT, ids=[" ".join(a) for a in (r[0] for r in REPORT)])
def test_report_bad_input(args, text, paths, monkeypatch, capsys):
    import policysearch.report
    from policysearch.report.__main__ import main

    monkeypatch.setattr(policysearch.report, "write_report", _no_compile)
    monkeypatch.setattr(policysearch.report, "compare_runs", _no_compile)
    monkeypatch.chdir(paths([DIR])[0])
    _assert_one_line(*_argparse(main, paths(args), capsys), text)


@pytest.mark.parametrize("args, text", BTGM, ids=[" ".join(a) for a in (r[0] for r in BTGM)])
def test_btgm_bad_input(args, text, paths, tmp_path, monkeypatch, capsys):
    from policysearch.btgm.__main__ import main

    out = [] if any(a.startswith("out_dir=") for a in args) else [f"out_dir={tmp_path}/r"]
    _assert_one_line(*_hydra(main, paths(out + args + ["progress=false"]), monkeypatch, capsys), text)


@pytest.mark.parametrize("args, text", OPTIMIZE, ids=[" ".join(a) for a in (r[0] for r in OPTIMIZE)])
def test_optimize_bad_input(args, text, paths, tmp_path, monkeypatch, capsys):
    from policysearch import optimize

    monkeypatch.setattr(optimize, "run_folds", _no_compile)
    out = [] if any(a.startswith("out_dir=") for a in args) else [f"out_dir={tmp_path}/r"]
    _assert_one_line(*_hydra(optimize.main, paths(out + args + ["progress=false"]), monkeypatch, capsys), text)


@pytest.mark.parametrize("args, text", SWEEPS, ids=[" ".join(a) for a in (r[0] for r in SWEEPS)])
def test_sweeps_bad_input(args, text, paths, capsys):
    from policysearch.sweeps import main

    _assert_one_line(*_argparse(main, paths(args), capsys), text)


@pytest.mark.parametrize("module, args, text", [
    ("policysearch.train", [f"out_dir={FILE}"], "is an existing file"),
    ("policysearch.train", ["strategy=nope"], "allowed in 'strategy'"),
    ("policysearch.sample", [f"out_dir={FILE}"], "is an existing file"),
    ("policysearch.evaluate", [DIR], "no exported policies"),
    ("policysearch.report", [RUN, "--out", FILE], "--out="),
    ("policysearch.btgm", ["case=nope"], "case='nope'"),
    ("policysearch.optimize", ["function=nope"], "function='nope'"),
])
def test_real_processes_print_one_line_and_exit_2(module, args, text, paths):
    r = cli(module, paths(args), timeout=120)
    _assert_one_line(r.returncode, r.stderr, text)
    assert r.stdout.strip() == ""
