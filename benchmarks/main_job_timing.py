"""Where a main-job run's time goes: imports, setup, loop, validation, export, report; within
each, tracing, XLA compilation, compile-cache reads and the rest (compute + host work).

    python benchmarks/main_job_timing.py [--repeats 1] [-- train overrides ...]

Each case runs ``policysearch.train`` in a fresh subprocess (so imports and in-process caches
count as they do for a user): ``cold`` with an empty persistent compile cache, ``warm`` the same
command again on the cache ``cold`` filled, ``warm, report off`` with ``report=false``. The
steps are the named steps of ``policysearch.train.TrainJob`` (timed by wrapping them); the
compile split comes from ``jax.monitoring`` duration events (trace = jaxpr tracing, compile =
XLA backend compile, cache = persistent-cache reads), attributed to the step that was running.
Default overrides: the default main job (``env=mountaincar``, 10 seeds, early stop) with
``progress=false``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = ("__init__", "resume", "loop", "decide", "validate", "export", "summary", "report")
# `decide` runs inside `loop` after every chunk (the early-stop validation); its seconds are also
# in the loop's wall time and are shown as the loop's "of which validation".
EVENTS = {"/jax/core/compile/jaxpr_trace_duration": "trace",
          "/jax/core/compile/backend_compile_duration": "compile",
          "/jax/compilation_cache/cache_retrieval_time_sec": "cache"}


def child(out_path, overrides):
    """Run the main job in this process with the steps and compile events timed."""
    t_proc = time.perf_counter()
    import jax.monitoring

    from policysearch import train

    t_import = time.perf_counter() - t_proc
    phase = ["imports"]
    table = {}

    def add(step, key, secs):
        table.setdefault(step, {"wall": 0.0, "trace": 0.0, "compile": 0.0, "cache": 0.0})[key] += secs

    def listener(event, duration, **kw):
        if event in EVENTS:
            add(phase[0], EVENTS[event], duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    add("imports", "wall", t_import)

    def timed(name, fn):
        def wrapper(*a, **k):
            outer, phase[0] = phase[0], ("setup" if name == "__init__" else name)
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                add(phase[0], "wall", time.perf_counter() - t)
                phase[0] = outer
        return wrapper

    for name in STEPS:
        setattr(train.TrainJob, name, timed(name, getattr(train.TrainJob, name)))
    from hydra import compose, initialize_config_dir

    from policysearch.cli import CONFIG_DIR

    t = time.perf_counter()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=list(overrides))
    phase[0] = "config and run()"
    summary = train.run(cfg, list(overrides))
    total_run = time.perf_counter() - t
    steps_wall = sum(v["wall"] for k, v in table.items() if k not in ("imports", "decide"))  # decide is inside loop
    add("config and run()", "wall", total_run - steps_wall)
    with open(out_path, "w") as f:
        json.dump({"steps": table, "process_s": time.perf_counter() - t_proc,
                   "generations": summary.get("generations_run"), "solved": summary.get("solved_count"),
                   "run_wall_time_s": summary.get("wall_time_s")}, f, indent=2)


def run_case(overrides, cache_dir, out_dir, tag, min_compile_s=None):
    path = os.path.join(out_dir, f"{tag}.json")
    env = dict(os.environ, POLICYSEARCH_JAX_CACHE=cache_dir, WANDB_MODE="disabled")
    if min_compile_s is not None:
        env["POLICYSEARCH_JAX_CACHE_MIN_COMPILE_S"] = str(min_compile_s)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, "--child", path, "--", *overrides], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f"error: case {tag} failed:\n{r.stderr[-2000:]}")
    with open(path) as f:
        data = json.load(f)
    data["subprocess_s"] = wall
    return data


def table_md(cases):
    steps = ["imports", "config and run()", "setup", "resume", "loop", "validate", "export", "summary", "report"]
    lines = ["| case | process s | " + " | ".join(steps) + " |", "|---|---|" + "---|" * len(steps)]
    for tag, d in cases.items():
        cells = []
        for s in steps:
            v = d["steps"].get(s)
            if not v or v["wall"] < 0.005:
                cells.append("–")
                continue
            parts = [f"{v['wall']:.1f}"]
            extra = ", ".join(f"{k} {v[k]:.1f}" for k in ("trace", "compile", "cache") if v[k] >= 0.05)
            nested = d["steps"].get("decide")
            if s == "loop" and nested and nested["wall"] >= 0.005:
                sub = ", ".join(f"{k} {nested[k]:.1f}" for k in ("trace", "compile", "cache") if nested[k] >= 0.05)
                extra += f"; of which early-stop validation {nested['wall']:.1f}" + (f" ({sub})" if sub else "")
            cells.append(parts[0] + (f" ({extra})" if extra else ""))
        lines.append(f"| {tag} | {d['subprocess_s']:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        rest = argv[argv.index("--") + 1:] if "--" in argv else []
        return child(argv[1], rest)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "experiments_out", "main_job_timing"))
    p.add_argument("--before", action="store_true",
                   help="also the old cache setting (only programs that took >= 0.5 s to compile were cached)")
    p.add_argument("overrides", nargs="*", help="train overrides (after --)")
    a = p.parse_args(argv)
    overrides = a.overrides or ["env=mountaincar", "progress=false"]
    os.makedirs(a.out, exist_ok=True)
    cases = {}
    # before: only programs that took >= 0.5 s to compile were cached (the old setting);
    # after: every program, also the tiny ones of eager jnp calls (policysearch/compile_cache.py)
    settings = (("before", 0.5), ("after", None)) if a.before else (("after", None),)
    for setting, min_s in settings:
        cache = tempfile.mkdtemp(prefix="jaxcache_", dir=a.out)
        for tag, extra in (("cold", []), ("warm", []), ("warm, report off", ["report=false"])):
            run_dir = tempfile.mkdtemp(prefix="run_", dir=a.out)
            name = f"{setting}: {tag}"
            cases[name] = run_case([*overrides, *extra, f"out_dir={run_dir}/r"], cache, a.out,
                                   name.replace(": ", "_").replace(", ", "_").replace(" ", "_"), min_s)
            print(f"{name}: {cases[name]['subprocess_s']:.1f} s", flush=True)
    md = table_md(cases)
    cmd = "python benchmarks/main_job_timing.py" + (" --before" if a.before else "") + ((" -- " + " ".join(a.overrides)) if a.overrides else "")
    text = f"Command: `{cmd}`\n\nSeconds per step (trace / XLA compile / compile-cache reads inside it):\n\n{md}\n"
    with open(os.path.join(a.out, "main_job_timing.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "main_job_timing.json"), "w") as f:
        json.dump({"command": cmd, "cases": cases}, f, indent=2)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
