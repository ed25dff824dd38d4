"""Where an experiment writes: its run folder and its figures (one rule for every script)."""

from __future__ import annotations

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def output_dirs(name: str, quick: bool, out: str | None, figures: str | None, topic: str) -> tuple[str, str]:
    """(out, figures) as absolute paths. Defaults: ``experiments_out/<name>[_quick]`` and
    ``docs/figures/<topic>`` (a ``--quick`` run keeps its figures in ``<out>/figures`` so that
    smoke runs never overwrite the committed ones)."""
    out = os.path.abspath(out or os.path.join(ROOT, "experiments_out", name + ("_quick" if quick else "")))
    default_figures = os.path.join(out, "figures") if quick else os.path.join(ROOT, "docs", "figures", topic)
    return out, os.path.abspath(figures or default_figures)
