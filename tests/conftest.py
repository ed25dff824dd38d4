import os

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("MPLBACKEND", "Agg")
# One BLAS thread: multi-threaded OpenBLAS makes small float64 linear algebra (GP, SMC, scipy)
# hundreds of times slower on a loaded 2-core machine (RESULTS.md, GENNES experiments).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from policysearch import compile_cache  # noqa: E402

compile_cache.enable()
