"""Where a bench's time goes, per cell: compile, simulation, validation, report, and the total.

    python benchmarks/bench_suite_timing.py suite=classic [strategies=[sv_cma_es,cma_es]] [seeds=20]

Any `python -m policysearch.bench` override works; without `out_dir=` the bench runs in a fresh
temporary directory (so every cell runs; the JAX compile cache stays whatever it is: run twice
for the warm-cache figure the classic suite's budget is sized for, docs/bench.md). Per cell:
compile = JAX tracing + lowering + backend compile or persistent-cache retrieval (jax.monitoring
events, any phase; nested events counted once: the union of their time intervals); simulation =
the generation loop minus its compiles; validation = the initial and final validations minus
their compiles; report = the cell's report minus its compiles; other = the rest of the train run
(config, strategy build, init, checkpoints, export).
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
import tempfile
import time

COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration", "/jax/compilation_cache/cache_retrieval_time_sec")
PHASES = ("compile", "simulation", "validation", "report", "other")


class Clock:
    """Seconds per (cell, phase); compile events are attributed to the phase they happen in."""

    def __init__(self):
        self.cell, self.phase = None, None
        self.seconds = collections.defaultdict(float)
        self.intervals = collections.defaultdict(list)  # (cell, phase) -> [(start, end)] of compile events

    def on_event(self, event, duration, **_):
        if event in COMPILE_EVENTS and self.cell is not None:
            end = time.perf_counter()  # events are recorded when they end
            self.intervals[self.cell, self.phase].append((end - duration, end))

    def compile_s(self, cell, phase) -> float:
        """Length of the union of the compile intervals (tracing contains nested compiles)."""
        total, reach = 0.0, -float("inf")
        for start, end in sorted(self.intervals[cell, phase]):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total

    @contextlib.contextmanager
    def timed(self, phase, cell=None):
        outer = (self.cell, self.phase)
        self.cell, self.phase = cell or self.cell, phase
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[self.cell, phase] += time.perf_counter() - t
            self.cell, self.phase = outer

    def row(self, cell) -> dict:
        sec = {p: self.seconds[cell, p] for p in ("train", "loop", "validation", "report")}
        comp = {p: self.compile_s(cell, p) for p in ("train", "loop", "validation", "report")}
        row = {"compile": sum(comp.values()), "simulation": sec["loop"] - comp["loop"],
               "validation": sec["validation"] - comp["validation"], "report": sec["report"] - comp["report"]}
        row["other"] = sec["train"] - sec["loop"] - sec["validation"] - comp["train"]
        row["total"] = sec["train"] + sec["report"]
        return row


def instrument(clock: Clock) -> None:
    import jax

    from policysearch import train
    from policysearch.bench import cells

    jax.monitoring.register_event_duration_secs_listener(clock.on_event)

    def wrap(owner, name, phase, cell_arg=False):
        original = getattr(owner, name)

        def timed(*args, **kw):
            with clock.timed(phase, args[0].name if cell_arg else None):
                return original(*args, **kw)

        setattr(owner, name, timed)

    wrap(cells, "_run_train", "train", cell_arg=True)
    wrap(cells, "_report", "report", cell_arg=True)
    wrap(train.TrainJob, "loop", "loop")
    wrap(train.TrainJob, "validate", "validation")
    wrap(train.TrainJob, "initial_returns", "validation")


def main(argv: list[str]) -> None:
    from hydra import compose, initialize_config_dir

    from policysearch import compile_cache
    from policysearch.bench import run_bench
    from policysearch.cli import CONFIG_DIR

    compile_cache.enable()
    if not any(a.startswith("out_dir=") for a in argv):
        argv = [*argv, f"out_dir={tempfile.mkdtemp(prefix='bench_timing_')}"]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="bench", overrides=argv)
    clock = Clock()
    instrument(clock)
    t0 = time.perf_counter()
    results = run_bench(cfg, argv)
    total = time.perf_counter() - t0
    print(f"\n{'cell':<36}" + "".join(f"{p:>12}" for p in (*PHASES, "total")))
    sums = collections.defaultdict(float)
    for env in results["envs"]:
        for strategy in results["strategies"]:
            row = clock.row(f"{env}/{strategy}")
            for k, v in row.items():
                sums[k] += v
            print(f"{env + '/' + strategy:<36}" + "".join(f"{row[p]:>12.1f}" for p in (*PHASES, "total")))
    print(f"{'all cells':<36}" + "".join(f"{sums[p]:>12.1f}" for p in (*PHASES, "total")))
    print(f"bench process total (cells + aggregation + figures): {total:.1f} s; bench directory {cfg.out_dir}")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main(sys.argv[1:])
