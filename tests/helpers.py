"""Shared test helpers: compose the training config exactly as the CLI does."""

from __future__ import annotations

import os
import subprocess
import sys

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_DIR = os.path.join(ROOT, "configs")

# A tiny but real run: 2 seeds, 4 particles x 4 offspring, MLP 2-4-1, short validation.
TINY = [
    "seeds=2", "generations=4", "chunk=2", "episodes=1", "validation_episodes=4",
    "strategy.num_particles=4", "strategy.pop_size=4", "policy.hidden_sizes=[4]",
    "progress=false", "report=false", "early_stop=false",
]


def compose_cfg(overrides, config_name="train"):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def run_train(overrides):
    """In-process run of the main job with CLI overrides; returns the summary."""
    from policysearch.train import run

    return run(compose_cfg(overrides), list(overrides))


def cli(module, args, timeout=600, env=None, **kw):
    """Run `python -m module args` in a subprocess from the repo root."""
    env = dict(env or os.environ)
    env.setdefault("WANDB_MODE", "disabled")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env, **kw)
