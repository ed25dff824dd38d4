"""policysearch: diverse policy search and gradient-free sampling in JAX."""

__version__ = "0.1.0"


def load_policy(run_dir, seed: int = 0, which: str = "best"):
    """Exported policy of a run directory: callable(obs ndarray) -> action ndarray."""
    from .export import load_policy as _load

    return _load(run_dir, seed=seed, which=which)


__all__ = ["load_policy", "__version__"]
