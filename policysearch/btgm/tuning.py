"""Tuning q_beta with a normalising flow (eqs. 7-9): q = law of g(X), X ~ p, with g maximising

    J(g) = E_X[ beta f(g(X)) + log p(g(X)) + log|det J_g(X)| ]  = log Z - H(p) - KL(q_g || q_beta).

The optimisation runs as ``lax.scan`` over Adam steps inside one compiled function per
(base, f, flow architecture, batch) - a :class:`Tuner` - that takes beta and the learning
rate as traced values, so a beta search warm-starts g across betas without recompiling.
Host syncs happen only between chunks of ``chunk`` steps (for progress display).

Empirical estimates of the tuned model (``TunedModel.estimates``) from ``eval_samples`` fresh
draws X ~ p, Y = g(X):
    mean / var / m3 / se  moments of f(Y);
    kl        KL(q_g || p) = mean[log p(X) - log|det J_g(X)| - log p(Y)]  (+ ``kl_se``);
    elbo      beta E f - KL;
    log_z     log Z(beta): the larger of two estimates, importance sampling from p
              (``log_z_is``, eq. 29) and importance sampling with q_g as proposal
              (``log_z_flow``, weights p e^{beta f} / q_g; good where q_g fits, unlike the
              first at large KL); both are consistent; the max is conservative for the gap;
    gap       log Z - elbo = KL(q_g || q_beta) >= 0 up to Monte-Carlo error: the fit quality;
    ess_flow  ESS fraction of the flow-proposal weights (1 = perfect fit);
    is_*      the importance-sampling ("theoretical") estimates at the same beta.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import paramax
from jax.scipy.special import logsumexp

from .estimators import sample_moments, tilt_estimates
from .flows import (Flow, FlowConfig, flow_forward, flow_inverse, make_flow, merge_flow,
                    split_flow)

__all__ = ["TuneConfig", "TunedModel", "Tuner", "tune", "get_tuner", "base_dim"]


@dataclasses.dataclass(frozen=True)
class TuneConfig:
    """Optimisation settings. ``steps`` is rounded up to a multiple of ``chunk``."""
    steps: int = 1000
    batch: int = 256
    learning_rate: float = 1e-3
    grad_clip: float = 10.0
    eval_samples: int = 4096
    chunk: int = 250

    def check(self) -> "TuneConfig":
        from policysearch.strategies.base import check_int
        for k in ("steps", "batch", "eval_samples", "chunk"):
            check_int(k, getattr(self, k), 1)
        for k in ("learning_rate", "grad_clip"):
            v = getattr(self, k)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{k}={v!r} is invalid: must be a finite number > 0")
        return self


def base_dim(base) -> int:
    """Dimension d of a base model (from the shape of ``base.sample(key, 1)``)."""
    return int(jax.eval_shape(lambda k: base.sample(k, 1), jax.random.key(0)).shape[-1])


class Tuner:
    """Compiled training / evaluation of flows of one architecture for one (base, f).

    Obtain it with :func:`get_tuner` (cached). ``make_loss()`` gives the loss in the
    (params, static, key) form that flowjax's own fit loop accepts (used by the benchmark).
    """

    def __init__(self, base, f: Callable, dim: int, flow_cfg: FlowConfig, batch: int,
                 chunk: int, eval_samples: int, grad_clip: float):
        self.base, self.f, self.dim, self.flow_cfg = base, f, dim, flow_cfg
        self.batch, self.chunk, self.eval_samples = batch, chunk, eval_samples
        template = make_flow(jax.random.key(0), dim, flow_cfg)
        _, _, self.static = split_flow(template)
        self.optimizer = optax.chain(
            optax.clip_by_global_norm(grad_clip),
            optax.inject_hyperparams(optax.adam)(learning_rate=1e-3))
        self._train = jax.jit(self._train_chunk)
        self._eval = jax.jit(self._evaluate)
        self._sample = jax.jit(self._sample_fn, static_argnums=3)
        self._log_prob = jax.jit(self._log_prob_fn)

    # ------------------------------------------------------------------ pieces
    def new_flow(self, key, mu, sd) -> Flow:
        fl = make_flow(key, self.dim, self.flow_cfg, mu=mu, sd=sd)
        train, const, _ = split_flow(fl)
        return merge_flow(train, const, self.static)

    def flow_of(self, train, const) -> Flow:
        return merge_flow(train, const, self.static)

    def objective(self, flow: Flow, x, beta):
        """Per-sample objective of eq. 9 and its parts, for x ~ p [n, d]."""
        y, ld = flow_forward(flow, x)
        fy = self.f(y)
        lpy = self.base.log_prob(y)
        return beta * fy + lpy + ld, (y, ld, fy, lpy)

    def make_loss(self, const, beta) -> Callable:
        """loss(train, static_unused, key) = -mean objective over a fresh batch x ~ p."""
        def loss(train, _static, key):
            x = self.base.sample(key, self.batch)
            obj, _ = self.objective(self.flow_of(train, const), x, beta)
            return -jnp.mean(obj)
        return loss

    def _train_chunk(self, train, const, opt_state, key, beta):
        loss_fn = self.make_loss(const, beta)

        def step(carry, k):
            tr, st = carry
            loss, g = jax.value_and_grad(loss_fn)(tr, None, k)
            upd, st2 = self.optimizer.update(g, st, tr)
            tr2 = optax.apply_updates(tr, upd)
            ok = jnp.isfinite(loss) & jnp.all(jnp.asarray(
                [jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(g)]))
            # a non-finite loss or gradient (e.g. f returning NaN somewhere) skips the step
            tr2 = jax.tree.map(lambda a, b: jnp.where(ok, a, b), tr2, tr)
            st2 = jax.tree.map(lambda a, b: jnp.where(ok, a, b), st2, st)
            return (tr2, st2), loss

        (train, opt_state), losses = jax.lax.scan(step, (train, opt_state),
                                                  jax.random.split(key, self.chunk))
        return train, opt_state, losses

    def _evaluate(self, train, const, key, beta):
        flow = self.flow_of(train, const)
        n = self.eval_samples
        x = self.base.sample(key, n)
        lpx = self.base.log_prob(x)
        obj, (y, ld, fy, lpy) = self.objective(flow, x, beta)
        kl_terms = lpx - ld - lpy                       # log q_g(Y) - log p(Y)
        mom = sample_moments(fy)
        kl = jnp.mean(kl_terms)
        elbo = beta * mom["mean"] - kl
        lw = beta * fy - kl_terms                       # log p e^{bf} / q_g at Y
        log_z_flow = logsumexp(lw) - jnp.log(n)
        w = jax.nn.softmax(lw)
        th = tilt_estimates(self.f(x), beta)
        log_z = jnp.maximum(th["log_z"], log_z_flow)
        return {"mean": mom["mean"], "var": mom["var"], "m3": mom["m3"], "se": mom["se"],
                "kl": kl, "kl_se": jnp.std(kl_terms) / jnp.sqrt(n), "elbo": elbo,
                "log_z": log_z, "log_z_is": th["log_z"], "log_z_flow": log_z_flow,
                "gap": log_z - elbo, "ess_flow": 1.0 / jnp.sum(w ** 2) / n,
                "is_mean": th["mean"], "is_var": th["var"], "is_m3": th["m3"],
                "is_kl": th["kl"], "is_ess": th["ess"],
                "finite_frac": jnp.mean(jnp.isfinite(fy).astype(jnp.float32))}

    def _sample_fn(self, train, const, key, n):
        x = self.base.sample(key, n)
        y, ld = flow_forward(self.flow_of(train, const), x)
        return x, y, ld

    def _log_prob_fn(self, train, const, y):
        x, ld = flow_inverse(self.flow_of(train, const), y)
        return self.base.log_prob(x) - ld

    # ------------------------------------------------------------------ driver
    def run(self, key, train, const, beta: float, steps: int, learning_rate: float,
            progress: Callable | None = None):
        """Train ``steps`` (rounded up to chunks) from ``train``; returns (train, losses)."""
        opt_state = self.optimizer.init(train)
        opt_state[1].hyperparams["learning_rate"] = jnp.asarray(learning_rate, jnp.float32)
        n_chunks = max(1, -(-steps // self.chunk))
        beta = jnp.float32(beta)
        losses = []
        for i, k in enumerate(jax.random.split(key, n_chunks)):
            train, opt_state, l = self._train(train, const, opt_state, k, beta)
            losses.append(l)
            if progress is not None:
                progress((i + 1) * self.chunk, n_chunks * self.chunk, float(l[-1]))
        return train, np.asarray(jnp.concatenate(losses))

    def evaluate(self, key, train, const, beta: float) -> dict:
        out = self._eval(train, const, key, jnp.float32(beta))
        return {k: float(v) for k, v in out.items()}


_TUNERS: dict = {}


def get_tuner(base, f: Callable, flow_cfg: FlowConfig = FlowConfig(),
              cfg: TuneConfig = TuneConfig(), dim: int | None = None) -> Tuner:
    """The cached :class:`Tuner` for (base, f, architecture, batch sizes)."""
    flow_cfg.check()
    cfg.check()
    dim = base_dim(base) if dim is None else dim
    chunk = min(cfg.chunk, cfg.steps)
    ck = (id(base), id(f), dim, flow_cfg, cfg.batch, chunk, cfg.eval_samples, cfg.grad_clip)
    if ck not in _TUNERS:
        _TUNERS[ck] = Tuner(base, f, dim, flow_cfg, cfg.batch, chunk, cfg.eval_samples,
                            cfg.grad_clip)
    return _TUNERS[ck]


@dataclasses.dataclass
class TunedModel:
    """q_g = law of g(X), X ~ base. ``estimates``: see the module docstring."""
    base: Any
    f: Callable
    beta: float
    flow: Flow
    estimates: dict
    losses: np.ndarray
    tuner: Tuner = dataclasses.field(repr=False)

    def _parts(self):
        train, const, _ = split_flow(self.flow)
        return train, const

    def sample_with_base(self, key, n: int):
        """(x ~ p [n, d], y = g(x) [n, d], log|det J_g(x)| [n])."""
        return self.tuner._sample(*self._parts(), key, int(n))

    def sample(self, key, n: int):
        """n draws of q_g [n, d]."""
        return self.sample_with_base(key, n)[1]

    def log_prob(self, y):
        """log q_g(y) = log p(g^-1(y)) - log|det J_g(g^-1(y))| for y [n, d] (uses the flow's
        inverse: d sequential passes per layer for autoregressive layers)."""
        return self.tuner._log_prob(*self._parts(), jnp.atleast_2d(jnp.asarray(y, jnp.float32)))


def tune(key, base, f: Callable, beta: float, steps: int = 1000, *, init: TunedModel | None = None,
         flow: FlowConfig | None = None, batch: int = 256, learning_rate: float = 1e-3,
         eval_samples: int = 4096, chunk: int = 250, grad_clip: float = 10.0,
         progress: Callable | None = None) -> TunedModel:
    """Tune q_beta ∝ p e^{beta f} with a flow g started at the identity (or at ``init``'s g:
    warm start, Alg. 1).

    ``base``: object with ``sample(key, n) -> [n, d]`` and ``log_prob(x [n, d]) -> [n]``
    (jax-traceable, log_prob differentiable); ``f``: jnp callable [n, d] -> [n], maximised,
    differentiable. ``steps`` Adam steps of ``batch`` fresh draws of p, run as lax.scan in
    chunks of ``chunk`` steps (steps rounded up); ``progress(step, total, loss)`` is called
    between chunks. ``flow``: architecture (:class:`FlowConfig`; default 4 affine MAF layers
    of width 32; ignored with ``init``). Returns a :class:`TunedModel` with ``sample``,
    ``log_prob`` and ``estimates`` (empirical "mean", "kl", "gap", ... over ``eval_samples``
    draws). The compiled training is cached per (base, f, architecture, batch, chunk,
    eval_samples): pass the same ``base`` and ``f`` objects across calls (a beta grid, a
    search) so that they share one compile."""
    beta = float(beta)
    if not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta={beta!r} is invalid: must be a finite number >= 0")
    cfg = TuneConfig(steps=steps, batch=batch, learning_rate=learning_rate, grad_clip=grad_clip,
                     eval_samples=eval_samples, chunk=chunk).check()
    k_init, k_train, k_eval = jax.random.split(key, 3)
    if init is not None:
        tuner = init.tuner if init.base is base and init.f is f else get_tuner(
            base, f, init.tuner.flow_cfg, cfg, init.tuner.dim)
        if (tuner.batch, tuner.chunk, tuner.eval_samples) != (batch, min(chunk, steps),
                                                              eval_samples):
            tuner = get_tuner(base, f, tuner.flow_cfg, cfg, tuner.dim)
        train, const = init._parts()
    else:
        tuner = get_tuner(base, f, flow or FlowConfig(), cfg)
        xs = base.sample(k_init, 4096)
        fl = tuner.new_flow(k_init, jnp.mean(xs, 0), jnp.std(xs, 0))
        train, const, _ = split_flow(fl)
    train, losses = tuner.run(k_train, train, const, beta, steps, learning_rate, progress)
    est = tuner.evaluate(k_eval, train, const, beta)
    return TunedModel(base, f, beta, tuner.flow_of(train, const), est, losses, tuner)
