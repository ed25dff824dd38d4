"""python -m policysearch.bench suite=<name> [strategies=[...]] [seeds=N] (docs/bench.md)."""

from .cli import main

main()
