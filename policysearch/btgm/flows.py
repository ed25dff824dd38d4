"""The flow g of BTGM (eqs. 8-9) behind a small interface of the project's own.

flowjax 19.1.2 supplies the bijections (masked autoregressive layers, affine or rational
quadratic spline transformers, permutations); this module only builds them, makes g the exact
identity at start and applies them to batches. Nothing else in policysearch imports flowjax,
so a flowjax API change is absorbed here.

Shape of g:  g(x) = mu + sd * h((x - mu) / sd), with (mu, sd) the mean and std of the base
model p (estimated from its samples) and h a stack of masked autoregressive layers in the
forward ("IAF") direction, so sampling q = law of g(X), X ~ p, and its log-det take one pass
(the paper's app. F uses inverse autoregressive flows). The standardisation makes the flow's
step sizes independent of the units of x; it cancels in the log-determinant.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import paramax

__all__ = ["FlowConfig", "Flow", "make_flow", "flow_forward", "flow_inverse", "split_flow",
           "merge_flow"]


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """Architecture of g. ``transformer``: "affine" (MAF/IAF) or "spline" (rational quadratic,
    on [-interval, interval] in standardised units, identity tails)."""
    layers: int = 4
    width: int = 32
    depth: int = 1
    transformer: str = "affine"
    knots: int = 8
    interval: float = 5.0

    def check(self) -> "FlowConfig":
        from policysearch.strategies.base import check_int
        for k in ("layers", "width", "depth", "knots"):
            check_int(f"flow.{k}", getattr(self, k), 1)
        if self.transformer not in ("affine", "spline"):
            raise ValueError(f"flow.transformer={self.transformer!r} is invalid; "
                             "allowed: affine, spline")
        if not (self.interval > 0):
            raise ValueError(f"flow.interval={self.interval!r} is invalid: must be > 0")
        return self


class Flow(eqx.Module):
    """g = standardise^-1 o h o standardise; ``h`` is a flowjax bijection on R^d."""
    h: eqx.Module
    mu: jax.Array
    sd: jax.Array


def _transformer(cfg: FlowConfig):
    from flowjax.bijections import RationalQuadraticSpline
    from flowjax.flows import _affine_with_min_scale
    if cfg.transformer == "spline":
        return RationalQuadraticSpline(knots=cfg.knots, interval=cfg.interval)
    return _affine_with_min_scale()


def _zero_last_layers(h):
    """Zero the last linear layer (weights and bias) of every conditioner network, so that the
    transformer parameters equal their initial values: identity affine / identity spline."""
    last = h.bijection.bijections[0].masked_autoregressive_mlp.layers[-1]
    w = last.weight
    h = eqx.tree_at(lambda t: t.bijection.bijections[0].masked_autoregressive_mlp.layers[-1].bias,
                    h, jnp.zeros_like(last.bias))
    h = eqx.tree_at(lambda t: t.bijection.bijections[0].masked_autoregressive_mlp.layers[-1]
                    .weight.args[1], h, jnp.zeros_like(w.args[1]))
    return h


def make_flow(key, dim: int, cfg: FlowConfig = FlowConfig(), mu=None, sd=None) -> Flow:
    """A flow on R^dim that is exactly the identity (log-det 0) at start."""
    from flowjax.bijections import MaskedAutoregressive, Scan
    from flowjax.flows import _add_default_permute
    cfg.check()
    if dim < 1:
        raise ValueError(f"dim={dim} is invalid: must be >= 1")
    transformer = _transformer(cfg)

    def make_layer(k):
        k1, k2 = jr.split(k)
        b = MaskedAutoregressive(k1, transformer=transformer, dim=dim, nn_width=cfg.width,
                                 nn_depth=cfg.depth)
        b = _add_default_permute(b, dim, k2)
        if not hasattr(b, "bijections"):            # dim == 1: no permutation layer
            from flowjax.bijections import Chain
            b = Chain([b])
        return b

    h = _zero_last_layers(Scan(eqx.filter_vmap(make_layer)(jr.split(key, cfg.layers))))
    if dim > 1:
        # the layers' permutations compose to some permutation P; undo it with a last fixed
        # permutation so that g is the exact identity at start (not merely volume preserving)
        from flowjax.bijections import Chain, Permute
        perm = jax.vmap(paramax.unwrap(h).transform)(jnp.arange(dim, dtype=jnp.float32)[None])[0]
        h = Chain([h, Permute(jnp.argsort(jnp.round(perm).astype(jnp.int32)))])
    mu = jnp.zeros(dim) if mu is None else jnp.asarray(mu, jnp.float32).reshape(dim)
    sd = jnp.ones(dim) if sd is None else jnp.asarray(sd, jnp.float32).reshape(dim)
    return Flow(h, mu, jnp.maximum(sd, 1e-6))


def flow_forward(flow: Flow, x):
    """y = g(x) and log|det J_g(x)| for a batch x [n, d] -> ([n, d], [n])."""
    h = paramax.unwrap(flow.h)
    u = (x - flow.mu) / flow.sd
    v, ld = jax.vmap(h.transform_and_log_det)(u)
    return flow.mu + flow.sd * v, ld


def flow_inverse(flow: Flow, y):
    """x = g^-1(y) and log|det J_g(x)| (of the forward map at x) for a batch y [n, d]."""
    h = paramax.unwrap(flow.h)
    v = (y - flow.mu) / flow.sd
    u, ld_inv = jax.vmap(h.inverse_and_log_det)(v)
    return flow.mu + flow.sd * u, -ld_inv


def split_flow(flow: Flow):
    """(trainable float arrays, other arrays, static rest) of a flow: the first is what the
    optimiser sees, the second (masks, permutations, standardisation) is traced but fixed,
    the third holds the structure (so flows of one architecture share one compiled program)."""
    flow = eqx.tree_at(lambda f: (f.mu, f.sd), flow,
                       (paramax.non_trainable(flow.mu), paramax.non_trainable(flow.sd)))
    train, rest = eqx.partition(flow, eqx.is_inexact_array,
                                is_leaf=lambda leaf: isinstance(leaf, paramax.NonTrainable))
    const, static = eqx.partition(rest, eqx.is_array)
    return train, const, static


def merge_flow(train, const, static) -> Flow:
    """Inverse of :func:`split_flow`."""
    flow = eqx.combine(train, const, static)
    return eqx.tree_at(lambda f: (f.mu, f.sd), flow,
                       (paramax.unwrap(flow.mu), paramax.unwrap(flow.sd)))
