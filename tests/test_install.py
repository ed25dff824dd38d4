"""A non-editable install runs every CLI from any directory (issue 13, part 2).

Builds the wheel from a copy of the sources, installs it into a temporary target (no checkout on
the path: the installed copy must be the one imported), and from an unrelated working directory
runs `train --help`, a one-generation run with its report, `evaluate` on that run, the other CLIs'
`--help`, `sweeps wandb-command configs/sweep/...` (resolved in the installed package), and composes
every top-level config of the installed `policysearch/configs/` (the configs/ folder shipped as
package data, see policysearch/cli.py and setup.py).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT

SOURCES = ("policysearch", "envs", "configs", "setup.py", "pyproject.toml", "README.md")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(path, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    r = subprocess.run(pip + ["wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(base / "dist")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    wheels = glob.glob(str(base / "dist" / "policysearch-*.whl"))
    assert len(wheels) == 1, wheels
    site = base / "site"
    r = subprocess.run(pip + ["install", "--no-deps", "--target", str(site), wheels[0]],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    cwd = base / "elsewhere"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "WANDB_MODE": "disabled", "MPLBACKEND": "Agg"}

    def run(*args, timeout=300):
        return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)

    return site, cwd, run


def test_the_installed_package_ships_every_config_and_is_the_one_imported(installed):
    site, _, run = installed
    code = (
        "import json, os, policysearch, policysearch.cli as c\n"
        "from hydra import compose, initialize_config_dir\n"
        "from hydra.core.global_hydra import GlobalHydra\n"
        "names = sorted(f[:-5] for f in os.listdir(c.CONFIG_DIR) if f.endswith('.yaml'))\n"
        "for n in names:\n"
        "    GlobalHydra.instance().clear()\n"
        "    with initialize_config_dir(config_dir=c.CONFIG_DIR, version_base='1.3'):\n"
        "        compose(config_name=n)\n"
        "files = sorted(os.path.relpath(os.path.join(d, f), c.CONFIG_DIR) for d, _, fs in os.walk(c.CONFIG_DIR)"
        " for f in fs if f.endswith('.yaml'))\n"
        "import envs\n"
        "print(json.dumps({'file': policysearch.__file__, 'envs': envs.__file__, 'config_dir': c.CONFIG_DIR,"
        " 'names': names, 'files': files}))\n"
    )
    r = run("-c", code)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(site)) and out["envs"].startswith(str(site))
    assert out["config_dir"] == os.path.join(str(site), "policysearch", "configs")
    repo = sorted(os.path.relpath(os.path.join(d, f), os.path.join(ROOT, "configs"))
                  for d, _, fs in os.walk(os.path.join(ROOT, "configs")) for f in fs if f.endswith(".yaml"))
    assert out["files"] == repo  # every config of the checkout is shipped
    assert {"train", "sample"} <= set(out["names"])


def test_the_wheel_ships_every_module_of_the_checkout(installed):
    """Package discovery (setup.py) finds every module: a sub-package without ``__init__.py`` or a
    moved module would be missing from the install while the checkout's tests still pass."""
    site, _, _ = installed

    def modules(base):
        return {os.path.relpath(os.path.join(d, f), base) for top in ("policysearch", "envs")
                for d, _, fs in os.walk(os.path.join(base, top)) if "__pycache__" not in d
                for f in fs if f.endswith(".py")}

    repo = modules(ROOT)
    assert "policysearch/density/base.py" in repo
    assert repo - modules(str(site)) == set()


def test_train_help_a_one_generation_run_and_evaluate_from_another_directory(installed):
    _, cwd, run = installed
    r = run("-m", "policysearch.train", "--help")
    assert r.returncode == 0 and "strategy: " in r.stdout and "env: " in r.stdout, r.stderr[-2000:]
    r = run("-m", "policysearch.train", "seeds=1", "generations=1", "chunk=1", "episodes=1",
            "validation_episodes=2", "strategy.num_particles=2", "strategy.pop_size=2",
            "policy.hidden_sizes=[2]", "progress=false", "out_dir=run")
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("config.yaml", "metrics.jsonl", "summary.json", "policies/policy.json", "report/index.html"):
        assert (cwd / "run" / name).exists(), name
    r = run("-m", "policysearch.evaluate", "run", "--episodes", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["num_seeds"] == 1


def test_the_other_clis_start_from_another_directory(installed):
    """--help of every other Hydra CLI, and a sweep file named by its repository path."""
    _, _, run = installed
    for module in ("policysearch.sample", "policysearch.btgm", "policysearch.optimize"):
        r = run("-m", module, "--help")
        assert r.returncode == 0 and "powered by Hydra" in r.stdout, (module, r.stderr[-2000:])
    r = run("-m", "policysearch.sweeps", "wandb-command", "configs/sweep/wandb_sv_cma_es_mountaincar.yaml")
    assert r.returncode == 0 and "policysearch.train" in r.stdout, r.stderr[-2000:]


def test_every_hydra_entry_point_uses_the_shared_config_dir():
    """`hydra.main(config_path="../configs")` works only in a checkout: every CLI must go through
    policysearch.cli.hydra_app (CONFIG_DIR finds the installed copy)."""
    offenders = []
    for path in glob.glob(os.path.join(ROOT, "policysearch", "**", "*.py"), recursive=True):
        if os.path.basename(path) == "cli.py" and os.path.dirname(path).endswith("policysearch"):
            continue
        with open(path) as f:
            if "hydra.main(" in f.read():
                offenders.append(os.path.relpath(path, ROOT))
    assert offenders == []
