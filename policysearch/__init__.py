"""policysearch: diverse policy search and gradient-free sampling in JAX."""

__version__ = "0.1.0"


def load_policy(run_dir, seed: int = 0, which: str = "best", cell: int | None = None):
    """Exported policy of a run directory: callable(obs ndarray) -> action ndarray.

    which: "best", "particles", or "archive" with `cell=k` (an elite of the QD archive).
    """
    from .export import load_policy as _load

    return _load(run_dir, seed=seed, which=which, cell=cell)


__all__ = ["load_policy", "__version__"]
