"""Benchmarks across tasks: `python -m policysearch.bench suite=classic` (docs/bench.md).

A bench is a list of cells (env x strategy), each an ordinary training run with its own run
directory (cells/<env>/<strategy>/), plus one aggregation over the finished cells with rliable.
Modules: suite (cells and their train configs, every check before compiling), cells (run,
reuse or resume the cells), aggregate (normalised scores, rliable interval estimates, per-env
tables), render (table.md, index.html, figures), cli (the Hydra entry point).
"""

from .cli import run_bench

__all__ = ["run_bench"]
