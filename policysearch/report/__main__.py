"""python -m policysearch.report RUN_DIR [RUN_DIR ...] [--out DIR]

One run directory: its report goes to RUN_DIR/report (or --out). Several: each run's report is
written (when missing or stale) and a side-by-side comparison goes to --out
(default ./report_compare).
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m policysearch.report",
        description="Write the report of a run directory, or compare several run directories.",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--out", default=None,
                        help="output folder (one run: default RUN_DIR/report; several: ./report_compare)")
    parser.add_argument("--episodes", type=int, default=None,
                        help="shared initial states for trajectories (default 3)")
    args = parser.parse_args(argv)
    for d in args.run_dirs:
        if not os.path.isdir(d):
            print(f"error: run directory {d!r} does not exist", file=sys.stderr)
            return 2
        if not os.path.exists(os.path.join(d, "policies", "policy.json")):
            print(f"error: {d!r} is not a finished run directory (no policies/policy.json)", file=sys.stderr)
            return 2
    if args.episodes is not None and args.episodes < 1:
        print(f"error: --episodes must be >= 1, got {args.episodes}", file=sys.stderr)
        return 2

    from .. import compile_cache
    from . import compare_runs, write_report

    compile_cache.enable()
    if len(args.run_dirs) == 1:
        paths = write_report(args.run_dirs[0], out_dir=args.out, episodes=args.episodes)
    else:
        if args.episodes is not None:
            print("warning: --episodes applies to single-run reports only; ignored", file=sys.stderr)
        paths = compare_runs(args.run_dirs, args.out or "report_compare")
    index = next(p for p in paths if p.endswith("index.html"))
    print(f"report: {os.path.abspath(index)} ({len(paths)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
