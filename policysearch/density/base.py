"""The base type of every density target: the contract the samplers, ground truth and metrics use.

Every target is an (unnormalised, unless ``normalized``) log-density ``log_prob(x)`` on a single
point ``x: float[dim]``; the batched views accept any leading shape ``[..., dim]``:

* ``log_prob_batch(x)``  -> ``[...]``
* ``score(x)`` / ``score_batch(x)`` -> gradient of the log-density (autodiff)
* ``fitness(x)`` -> ``-log_prob_batch(x)``; the view the strategies MINIMISE
  (``p(x) ∝ exp(-f(x))``).

Targets with an exact sampler implement ``sample(key, n)``. Each target names the way its
ground truth is obtained (``ground_truth_method``: ``exact``, ``grid`` (2-D), ``nuts`` or
``smc``); see :mod:`policysearch.density.ground_truth`.

``params()`` returns a JSON-able dict that, with the class name, identifies the density; its
hash names the ground-truth cache files.

This module imports no target: the concrete targets (:mod:`.targets`, :mod:`.benchmarks`,
:mod:`.logreg`, :mod:`.motion_planning`) import it, and the registry
(:func:`policysearch.density.targets.make_target`) imports them, so no import runs in a circle.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Target"]


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.ndarray, jax.Array)):
        return np.round(np.asarray(v, dtype=np.float64), 10).tolist()
    if isinstance(v, (list, tuple)):
        return [_jsonable(u) for u in v]
    if isinstance(v, dict):
        return {k: _jsonable(u) for k, u in v.items()}
    if isinstance(v, (np.floating, float)):
        return round(float(v), 10)
    if isinstance(v, np.integer):
        return int(v)
    return v


class Target:
    """Base class of the synthetic targets (see module docstring for the contract)."""

    name: str = "target"
    dim: int = 0
    #: True when ``log_prob`` includes the normalising constant.
    normalized: bool = False
    #: "exact", "grid", "nuts" or "smc"
    ground_truth_method: str = "nuts"
    #: ((xmin, xmax), (ymin, ymax)) for figures of 2-D targets (or 2-D projections)
    plot_bounds: tuple | None = None
    #: initial particles ~ N(init_mean, init_std^2 I)
    init_std: float = 1.0

    # --- to implement -------------------------------------------------------------------
    def log_prob(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError

    def params(self) -> dict:
        raise NotImplementedError

    # --- optional ------------------------------------------------------------------------
    @property
    def has_exact_sampler(self) -> bool:
        return type(self).sample is not Target.sample

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        raise NotImplementedError(f"target '{self.name}' has no exact sampler")

    @property
    def init_mean(self) -> jax.Array:
        return jnp.zeros(self.dim)

    def init_particles(self, key: jax.Array, n: int) -> jax.Array:
        """Initial particles for the strategies: N(init_mean, init_std^2 I), shape [n, dim]."""
        return self.init_mean + self.init_std * jax.random.normal(key, (n, self.dim))

    #: number of modes when the target has labelled modes (mixtures, rings, motion planning)
    num_modes: int | None = None

    def mode_labels(self, x: jax.Array) -> jax.Array:
        """Mode index of each point of ``x [..., dim]`` (-1: far from every mode)."""
        raise NotImplementedError(f"target '{self.name}' has no labelled modes")

    def mode_weights(self) -> np.ndarray | None:
        """True probability mass of each mode, when known in closed form."""
        return None

    # --- derived views -------------------------------------------------------------------
    def params_hash(self) -> str:
        blob = json.dumps({"class": type(self).__name__, "params": _jsonable(self.params())},
                          sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def _batched(self, fn, x):
        x = jnp.asarray(x)
        lead = x.shape[:-1]
        cache = self.__dict__.setdefault("_jit_cache", {})
        name = fn.__name__
        if name not in cache:
            cache[name] = jax.jit(jax.vmap(fn))   # one compiled program per view and shape
        out = cache[name](x.reshape((-1, x.shape[-1])))
        return out.reshape(lead + out.shape[1:])

    def log_prob_batch(self, x: jax.Array) -> jax.Array:
        return self._batched(self.log_prob, x)

    def score(self, x: jax.Array) -> jax.Array:
        return jax.grad(self.log_prob)(x)

    def score_batch(self, x: jax.Array) -> jax.Array:
        return self._batched(self.score, x)

    def fitness(self, x: jax.Array) -> jax.Array:
        """f(x) = -log p(x) (up to a constant), batched over leading axes; strategies minimise f."""
        return -self.log_prob_batch(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"
