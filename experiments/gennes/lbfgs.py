"""Repeated L-BFGS-B (scipy) from random starts: the GENNES paper's gradient baseline.

Two uses (sec. 4.1 and 4.2 of the paper):

* :func:`budgeted` - restart from points drawn uniformly in the box until an evaluation budget is
  spent, recording the best-so-far value after every evaluation (Table 1). Each run uses scipy's
  defaults (``ftol`` 2.2e-9, ``gtol`` 1e-5) and ``maxfun`` = the budget left; a run that overshoots
  (scipy checks ``maxfun`` between line searches) is cut at the budget.
* :func:`multistart` - a fixed number of starts, each run to convergence (projected gradient
  below ``gtol`` = 1e-5, the paper's stopping rule for the acquisition), returning the best point
  (the acquisition maximiser of the BO experiment).

The objective is ``value_and_grad(x: float64 ndarray [d]) -> (float, ndarray [d])`` (e.g. a jitted
float64 ``jax.value_and_grad``); one call is one evaluation (``nfev``: scipy asks for the value and
the gradient together, and a gradient counts as an evaluation, as in the paper). Set
``OPENBLAS_NUM_THREADS=1`` before numpy is imported: multi-threaded BLAS makes every small call
slower by 10-1000x on a small shared CPU (REFERENCE.md sec. 8).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.optimize import minimize

__all__ = ["budgeted", "multistart"]

ValueAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]


class _Recorder:
    """Wraps the objective: counts calls, keeps every value (and the best point) in order."""

    def __init__(self, fun: ValueAndGrad, limit: int | None = None):
        self.fun, self.limit = fun, limit
        self.values: list[float] = []
        self.best_x, self.best_f = None, np.inf

    def __call__(self, x):
        f, g = self.fun(x)
        f = float(f)
        if self.limit is None or len(self.values) < self.limit:
            self.values.append(f if np.isfinite(f) else np.inf)
            if f < self.best_f:
                self.best_f, self.best_x = f, np.array(x, np.float64)
        return f, np.asarray(g, np.float64)


def _bounds(lower, upper, dim):
    lo = np.broadcast_to(np.asarray(lower, np.float64), (dim,))
    hi = np.broadcast_to(np.asarray(upper, np.float64), (dim,))
    return lo, hi


def budgeted(value_and_grad: ValueAndGrad, lower, upper, budget: int, rng: np.random.Generator,
             dim: int | None = None) -> dict:
    """Restarts uniform in ``[lower, upper]`` until ``budget`` evaluations; returns ``best``
    [budget] (best-so-far value after each evaluation), ``best_x``, ``runs`` (restarts used)."""
    dim = dim if dim is not None else np.size(lower)
    lo, hi = _bounds(lower, upper, dim)
    rec = _Recorder(value_and_grad, limit=budget)
    runs = 0
    while len(rec.values) < budget:
        x0 = rng.uniform(lo, hi)
        runs += 1
        minimize(rec, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lo, hi)),
                 options={"maxfun": budget - len(rec.values)})
    return {"best": np.minimum.accumulate(np.asarray(rec.values[:budget])), "best_x": rec.best_x,
            "runs": runs}


def multistart(value_and_grad: ValueAndGrad, lower, upper, starts: int, rng: np.random.Generator,
               dim: int | None = None, gtol: float = 1e-5, x0=None) -> dict:
    """``starts`` runs from uniform points (or the given ``x0 [starts, d]``), each to convergence;
    returns ``x`` (best point over all evaluations), ``value``, ``nfev`` (total evaluations)."""
    dim = dim if dim is not None else np.size(lower)
    lo, hi = _bounds(lower, upper, dim)
    rec = _Recorder(value_and_grad)
    x0 = rng.uniform(lo, hi, size=(starts, dim)) if x0 is None else np.asarray(x0, np.float64)
    for x in x0:
        minimize(rec, x, jac=True, method="L-BFGS-B", bounds=list(zip(lo, hi)), options={"gtol": gtol})
    return {"x": rec.best_x, "value": rec.best_f, "nfev": len(rec.values)}
