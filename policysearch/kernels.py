"""RBF kernel, bandwidth rules, Stein repulsion and repulsion-strength schedules.

Conventions (used by every strategy in :mod:`policysearch.strategies`):

* RBF kernel with bandwidth ``h`` (a standard deviation, as evosax >= 2025 uses it):
  ``k(x, y) = exp(-||x - y||^2 / (2 h^2))``.
* Median heuristic (Liu & Wang 2016): ``h^2 = med^2 / (2 log(n + 1))`` where ``med`` is the
  median of the ``n (n - 1) / 2`` pairwise Euclidean distances between the ``n`` particles;
  ``bandwidth(..., scale=s)`` multiplies that ``h`` by ``s``.
* ``K[j, i] = k(x_j, x_i)``; the repulsion on particle ``i`` is
  ``sum_j grad_{x_j} k(x_j, x_i) = sum_j K[j, i] (x_i - x_j) / h^2`` (no ``1/n``; callers scale).
* gamma schedules are pure functions of the normalised time ``t = generation / T`` in ``[0, 1]``
  (clipped) and the horizon ``T``; they return the factor that multiplies the scale ``alpha``.
* Kernel spaces (``KERNEL_SPACES``): ``"parameters"`` is the RBF on the particles themselves;
  ``"actions"`` is the RBF on an embedding ``e = embed(x[n, d], context) -> [n, k]`` of the
  particles (for policies: their actions at probe observations, ``ActionEmbedding``). The
  strategies only see a generic ``embed``; the function-space repulsion on particle ``i`` is
  ``J_i^T sum_j k(e_j, e_i) (e_i - e_j) / h^2`` with ``J_i = d e_i / d x_i`` (a vector-Jacobian
  product through ``embed`` only), bandwidth by the same rules on the embeddings. With
  ``embed = identity`` it is the parameter-space repulsion.
* Bandwidth floor on embeddings: particles that *behave* identically (a policy and a
  hidden-unit permutation of it) have embedding distances of float noise (~1e-7), so the median
  heuristic gives h ~ 1e-7 and the repulsion is that noise times 1/h^2 (~1e7 on pendulum). An
  embedding that declares ``coordinate_scale`` s (``ActionEmbedding``: the RMS half-width of the
  action box, 0.5 for probabilities) gets ``h >= EMBEDDING_BANDWIDTH_FLOOR * sqrt(k) * s`` (the
  median rule only): behaviours whose RMS difference per coordinate is below 1 % of s are one
  behaviour at the kernel's resolution. Parameter space has no floor: there coinciding particles
  have exactly zero differences (zero repulsion), and distinct particles real ones.

All functions are pure jnp code: jit / vmap / grad friendly.
"""

from __future__ import annotations

import dataclasses
import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "BANDWIDTH_RULES",
    "SCHEDULES",
    "check_bandwidth_rule",
    "check_schedule",
    "rbf_kernel",
    "pairwise_sq_dists",
    "kernel_matrix",
    "median_bandwidth",
    "bandwidth",
    "repulsion",
    "svgd_direction",
    "gamma_schedule",
    "KERNEL_SPACES",
    "check_kernel_space",
    "embedded_repulsion",
    "embedded_svgd_direction",
    "clip_repulsion",
    "EMBEDDING_BANDWIDTH_FLOOR",
    "embedding_bandwidth_floor",
    "ProbeContext",
    "ActionEmbedding",
]

KERNEL_SPACES = ("parameters", "actions")

BANDWIDTH_RULES = ("median", "fixed")
SCHEDULES = ("constant", "inverse", "log", "linear")

# Floor for h^2: all particles identical gives med = 0; the repulsion is then exactly 0
# (x_i - x_j = 0) instead of 0/0.
_MIN_H2 = 1e-20

# Smallest median-heuristic bandwidth on an embedding, as a fraction of its per-coordinate
# scale (times sqrt(k)); see the module docstring and docs/strategies.md.
EMBEDDING_BANDWIDTH_FLOOR = 0.01


def check_bandwidth_rule(rule: str) -> str:
    if rule not in BANDWIDTH_RULES:
        raise ValueError(f"unknown bandwidth rule {rule!r}; valid rules: {', '.join(BANDWIDTH_RULES)}")
    return rule


def check_schedule(name: str) -> str:
    if name not in SCHEDULES:
        raise ValueError(f"unknown gamma schedule {name!r}; valid schedules: {', '.join(SCHEDULES)}")
    return name


def check_kernel_space(space: str, num_probes: int = 1) -> str:
    """Static check of a strategy's ``kernel_space`` and its ``num_probes`` (>= 1)."""
    if space not in KERNEL_SPACES:
        raise ValueError(f"kernel_space={space!r} is invalid; allowed: {', '.join(KERNEL_SPACES)}")
    if isinstance(num_probes, bool) or not isinstance(num_probes, int) or num_probes < 1:
        raise ValueError(f"num_probes={num_probes!r} is invalid: must be an integer >= 1")
    return space


def rbf_kernel(x: jax.Array, y: jax.Array, h: jax.Array | float) -> jax.Array:
    """``exp(-||x - y||^2 / (2 h^2))`` for single points (vmap for batches)."""
    return jnp.exp(-0.5 * jnp.sum(jnp.square(x - y), axis=-1) / jnp.square(h))


def pairwise_sq_dists(x: jax.Array) -> jax.Array:
    """``D[j, i] = ||x_j - x_i||^2`` for ``x`` of shape ``[n, d]`` (exact differences, symmetric)."""
    diff = x[:, None, :] - x[None, :, :]
    return jnp.sum(jnp.square(diff), axis=-1)


def kernel_matrix(x: jax.Array, h: jax.Array | float) -> jax.Array:
    """``K[j, i] = k(x_j, x_i)`` for ``x`` of shape ``[n, d]``."""
    return jnp.exp(-0.5 * pairwise_sq_dists(x) / jnp.square(h))


def median_bandwidth(x: jax.Array) -> jax.Array:
    """Median heuristic ``h = med / sqrt(2 log(n + 1))`` over distinct pairs of ``x[n, d]``.

    Needs ``n >= 2``. Returns a float scalar ``h >= 0`` (0 when all particles coincide).
    """
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"median bandwidth needs at least 2 particles, got {n}")
    iu, ju = jnp.triu_indices(n, k=1)
    d = jnp.sqrt(pairwise_sq_dists(x)[iu, ju])
    med = jnp.median(d)
    return med / math.sqrt(2.0 * math.log(n + 1.0))


def bandwidth(
    x: jax.Array, rule: str, fixed_h: jax.Array | float, scale: jax.Array | float = 1.0,
    floor: jax.Array | float = 0.0,
) -> jax.Array:
    """Bandwidth ``h`` by ``rule``, floored to stay finite.

    ``"median"``: ``max(scale * median_bandwidth(x), floor)`` (``scale = 1`` is Liu & Wang's
    heuristic; ``floor``: see ``embedding_bandwidth_floor``); ``"fixed"``: ``fixed_h`` (``scale``
    and ``floor`` unused).
    """
    check_bandwidth_rule(rule)
    if rule == "median":
        h = jnp.maximum(scale * median_bandwidth(x), floor)
    else:
        h = jnp.asarray(fixed_h, dtype=x.dtype)
    return jnp.sqrt(jnp.maximum(jnp.square(h), _MIN_H2))


def repulsion(x: jax.Array, h: jax.Array | float) -> jax.Array:
    """``R[i] = sum_j grad_{x_j} k(x_j, x_i) = sum_j k(x_j, x_i) (x_i - x_j) / h^2``; shape ``[n, d]``."""
    K = kernel_matrix(x, h)  # K[j, i]
    # sum_j K[j, i] (x_i - x_j) = x_i * sum_j K[j, i] - sum_j K[j, i] x_j
    diff = x[None, :, :] - x[:, None, :]  # diff[j, i] = x_i - x_j
    return jnp.sum(K[:, :, None] * diff, axis=0) / jnp.square(h)


def svgd_direction(
    x: jax.Array, grad_logp: jax.Array, h: jax.Array | float, repulsion_scale: jax.Array | float = 1.0
) -> jax.Array:
    """SVGD field ``phi(x_i) = 1/n sum_j [k(x_j, x_i) grad log p(x_j) + c grad_{x_j} k(x_j, x_i)]``.

    ``x`` and ``grad_logp`` are ``[n, d]``; ``c = repulsion_scale`` (1 for plain SVGD).
    """
    n = x.shape[0]
    K = kernel_matrix(x, h)
    drive = K.T @ grad_logp  # [i] = sum_j K[j, i] grad_j
    return (drive + repulsion_scale * repulsion(x, h)) / n


def gamma_schedule(name: str, t: jax.Array | float, T: jax.Array | float) -> jax.Array:
    """Repulsion factor at normalised time ``t`` (clipped to ``[0, 1]``) for a run of ``T`` generations.

    * ``constant``: 1.
    * ``inverse``:  ``T / (g + 1)`` with ``g = t T`` (evosax example's ``alpha_t = T/(t+1)``):
      starts at ``T``, decays to ``~1`` at the end.
    * ``log``: ``max(log(T / g), 1)`` with ``g = max(t T, 1)``: starts at ``log T``, is 1 from
      ``g >= T / e`` on.
    * ``linear``: ``1 - t``: decays linearly from 1 to 0.
    """
    check_schedule(name)
    T = jnp.maximum(jnp.asarray(T, dtype=jnp.float32), 1.0)
    t = jnp.clip(jnp.asarray(t, dtype=jnp.float32), 0.0, 1.0)
    if name == "constant":
        return jnp.ones_like(t)
    if name == "inverse":
        return T / (t * T + 1.0)
    if name == "log":
        g = jnp.maximum(t * T, 1.0)
        return jnp.maximum(jnp.log(T / g), 1.0)
    return 1.0 - t  # linear


# ---------------------------------------------------------------------------------------------
# Kernels on an embedding of the particles (function space)
# ---------------------------------------------------------------------------------------------
def embedding_bandwidth_floor(e: jax.Array, coordinate_scale: float | None) -> float:
    """Smallest median-heuristic ``h`` on embeddings ``e[n, k]`` whose coordinates have scale
    ``coordinate_scale`` (the embedding's declared ``coordinate_scale``): ``EMBEDDING_BANDWIDTH_FLOOR
    * sqrt(k) * coordinate_scale``; 0 (no floor) when the embedding declares none."""
    if coordinate_scale is None:
        return 0.0
    return EMBEDDING_BANDWIDTH_FLOOR * math.sqrt(e.shape[-1]) * float(coordinate_scale)


def embedded_repulsion(x, embed, rule: str, fixed_h, scale=1.0, coordinate_scale=None):
    """``(R[n, d], h)``: the repulsion of ``repulsion`` computed on ``e = embed(x)`` and pulled
    back to ``x`` by a vector-Jacobian product: ``R[i] = J_i^T sum_j k(e_j, e_i) (e_i - e_j) / h^2``.

    ``embed``: ``[n, d] -> [n, k]``, row ``i`` depending on ``x[i]`` only. ``h`` by ``rule`` on
    the embeddings (median heuristic on output distances, floored by
    ``embedding_bandwidth_floor(e, coordinate_scale)``) and held fixed in the gradient, as in
    parameter space.
    """
    e, pullback = jax.vjp(embed, x)
    h = bandwidth(e, rule, fixed_h, scale, embedding_bandwidth_floor(e, coordinate_scale))
    return pullback(repulsion(e, h))[0], h


def embedded_svgd_direction(x, grad_logp, embed, rule: str, fixed_h, scale=1.0, repulsion_scale=1.0,
                            coordinate_scale=None):
    """``(phi[n, d], h)``: ``svgd_direction`` with the kernel on ``e = embed(x)`` (see
    ``embedded_repulsion``): ``phi_i = 1/n sum_j [k(e_j, e_i) g_j + c J_i^T grad_{e_j} k(e_j, e_i)]``."""
    n = x.shape[0]
    e, pullback = jax.vjp(embed, x)
    h = bandwidth(e, rule, fixed_h, scale, embedding_bandwidth_floor(e, coordinate_scale))
    drive = kernel_matrix(e, h).T @ grad_logp
    return (drive + repulsion_scale * pullback(repulsion(e, h))[0]) / n, h


def clip_repulsion(rep, limit):
    """Scale each row of ``rep[n, d]`` down to norm ``<= limit[n]`` (unchanged, bit for bit,
    where it is already within; ``limit = inf`` never clips)."""
    norm = jnp.sqrt(jnp.sum(jnp.square(rep), axis=-1))
    factor = jnp.where(norm > limit, limit / jnp.maximum(norm, 1e-30), 1.0)
    return rep * factor[:, None]


@flax.struct.dataclass
class ProbeContext:
    """What ``ActionEmbedding`` needs besides the particles: probe observations ``obs[P, o]``
    and the observation-normalisation statistics the policies act with (or None)."""

    obs: jax.Array  # [P, observation_size]
    obs_stats: object = None


@dataclasses.dataclass(frozen=True)
class ActionEmbedding:
    """A policy's outputs at probe observations: ``embed(x[n, d], ctx) -> [n, P * a]``.

    Continuous actions: the squashed actions (in the action bounds); discrete: the action
    probabilities (softmax of the logits; argmax is not differentiable). Differentiable in
    ``x`` through the policy network only (no rollout). ``policy`` is static (hashable).
    """

    policy: object
    num_probes: int = 32

    @property
    def coordinate_scale(self) -> float | None:
        """Scale of one embedding coordinate, for the bandwidth floor: the RMS half-width of the
        action box (continuous), 0.5 (probabilities); None (no floor) for an unbounded box."""
        if self.policy.discrete:
            return 0.5
        half = 0.5 * (np.asarray(self.policy.action_high, np.float64) - np.asarray(self.policy.action_low, np.float64))
        s = float(np.sqrt(np.mean(np.square(half))))
        return s if math.isfinite(s) and s > 0 else None

    def __call__(self, x, ctx: ProbeContext):
        out = jax.vmap(lambda flat: self.policy.probe_outputs(flat, ctx.obs, ctx.obs_stats))(x)
        return out.reshape(x.shape[0], -1)

    def context(self, key, obs_mean, obs_var, obs_stats=None) -> ProbeContext:
        """Fresh probe observations ~ N(obs_mean, obs_var) (the visited observations' statistics)."""
        z = jax.random.normal(key, (self.num_probes, obs_mean.shape[-1]), jnp.float32)
        return ProbeContext(obs=obs_mean + jnp.sqrt(jnp.maximum(obs_var, 0.0)) * z, obs_stats=obs_stats)
