"""Console output of a run: a rich progress bar between chunks and the final per-seed table."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

console = Console(stderr=True)


class Progress:
    """Generation progress with best return per seed and evaluations/s."""

    def __init__(self, total: int, seeds, enabled: bool = True):
        self.total, self.seeds, self.enabled = total, list(seeds), enabled
        self._bar = None

    def start(self, generation: int):
        if not self.enabled:
            return
        self._bar = RichProgress(
            TextColumn("gen"), MofNCompleteColumn(), BarColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"), console=console, transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("run", total=self.total, completed=generation, info="compiling...")

    def update(self, generation: int, best_per_seed, evals_per_s: float):
        if self._bar is None:
            return
        best = " ".join(f"{v:.1f}" for v in np.asarray(best_per_seed)[:12])
        more = " ..." if len(self.seeds) > 12 else ""
        self._bar.update(self._task, completed=generation,
                         info=f"{evals_per_s:,.0f} evals/s | best/seed: {best}{more}")

    def stop(self):
        if self._bar is not None:
            self._bar.stop()


def print_results_table(summary: dict) -> None:
    out = Console()
    table = Table(title=f"{summary['strategy']} on {summary['env']}: solved "
                        f"{summary['solved_count']}/{summary['num_seeds']} "
                        f"(threshold {summary['solve_threshold']}, "
                        f"{summary['validation_episodes']} validation episodes)")
    for col in ("seed", "best return", "solved", "first solved gen", "train best", "best from"):
        table.add_column(col, justify="right")
    for s in summary["seeds"]:
        table.add_row(
            str(s["seed"]), f"{s['best_return']:.2f}", "yes" if s["solved"] else "no",
            "-" if s["first_solved_generation"] is None else str(s["first_solved_generation"]),
            f"{s['train_best_return']:.2f}", s["best_source"],
        )
    out.print(table)
    out.print(f"generations run: {summary['generations_run']}"
              f"{' (early stop: all seeds solved)' if summary['stopped_early'] else ''}, "
              f"wall time {summary['wall_time_s']:.1f} s")
