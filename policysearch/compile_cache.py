"""Turn on JAX's persistent compilation cache (CLI and tests), so repeated runs skip compiles."""

import os

import jax

#: the project's user cache folder: the JAX cache (jax/) and the BTGM case models (btgm_models/),
#: each movable by its own variable (POLICYSEARCH_JAX_CACHE, POLICYSEARCH_BTGM_CACHE)
ROOT = os.path.join(os.path.expanduser("~"), ".cache", "policysearch")
DEFAULT_DIR = os.path.join(ROOT, "jax")


# Every compiled program is cached, also the many tiny ones of eager jnp calls (e.g. ~50 when a
# strategy builds evosax's default parameters): each costs 50-100 ms to compile on a 2-core CPU
# and ~1 ms to read back (benchmarks/main_job_timing.py, RESULTS.md). Same
# executables, so the same numbers. POLICYSEARCH_JAX_CACHE_MIN_COMPILE_S overrides (0.5 was the
# old setting).
MIN_COMPILE_S = 0.0


def enable(path: str | None = None) -> str:
    path = path or os.environ.get("POLICYSEARCH_JAX_CACHE", DEFAULT_DIR)
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    min_s = float(os.environ.get("POLICYSEARCH_JAX_CACHE_MIN_COMPILE_S", MIN_COMPILE_S))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_s)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
