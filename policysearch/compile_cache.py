"""Turn on JAX's persistent compilation cache (CLI and tests), so repeated runs skip compiles."""

import os

import jax

DEFAULT_DIR = os.path.join(os.path.expanduser("~"), ".cache", "policysearch", "jax")


def enable(path: str | None = None) -> str:
    path = path or os.environ.get("POLICYSEARCH_JAX_CACHE", DEFAULT_DIR)
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
