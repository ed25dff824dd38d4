"""python -m policysearch.report RUN_DIR [RUN_DIR ...] [--out DIR]

One run directory: its report goes to RUN_DIR/report (or --out). Several: each run's report is
written (when missing or stale) and a side-by-side comparison goes to --out
(default ./report_compare).
"""

from __future__ import annotations

import os
import sys

from ..cli import ArgumentParser, UsageError, one_line, prepare_out_dir


def _check(args) -> None:
    """Every argument, before any compilation (UsageError names the bad one)."""
    for d in args.run_dirs:
        if not os.path.isdir(d):
            what = "is not a directory" if os.path.exists(d) else "does not exist"
            raise UsageError(f"run directory {d!r} {what}")
        if not os.path.exists(os.path.join(d, "policies", "policy.json")):
            raise UsageError(f"{d!r} is not a finished run directory (no policies/policy.json)")
    if args.episodes is not None and args.episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {args.episodes}")
    if len(args.run_dirs) == 1:
        prepare_out_dir(args.out or os.path.join(args.run_dirs[0], "report"), "--out")
    else:
        for d in args.run_dirs:
            prepare_out_dir(os.path.join(d, "report"), "report of " + d)
        prepare_out_dir(args.out or "report_compare", "--out")


def main(argv=None) -> int:
    parser = ArgumentParser(
        prog="python -m policysearch.report",
        description="Write the report of a run directory, or compare several run directories.",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--out", default=None,
                        help="output folder (one run: default RUN_DIR/report; several: ./report_compare)")
    parser.add_argument("--episodes", type=int, default=None,
                        help="shared initial states for trajectories (default 3)")
    args = parser.parse_args(argv)
    try:
        _check(args)
    except UsageError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
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
