"""Beta search (Alg. 1 with eqs. 5-6): find beta such that the tuned model reaches a target
E_q f = C_f or KL(q_beta || p) = C_D, warm-starting the flow across betas.

The paper only says "a second-order update of beta using eqs. 5 and 6". Our reading (see
docs/btgm.md): with the tuned model's Monte-Carlo estimates m = E f, V = Var f,
M3 = E (f - m)^3 and the residual r(beta),

    target C_f:  r = m - C_f,   r' = V,          r'' = M3
    target C_D:  r = KL - C_D,  r' = beta V,     r'' = V + beta M3

the step is the root of the second-order Taylor model r + r' s + r'' s^2 / 2 nearest to 0,
s = -2 r / (r' + sqrt(r'^2 - 2 r'' r)), falling back to Newton's -r / r' when the root is
complex. Safeguards: beta >= 0; a bracket [lo, hi] (both curves increase with beta, so the
sign of r tells on which side the root lies); a step leaving the bracket is replaced by
bisection (or by doubling while no upper end is known); stop when |r| < 2 x the Monte-Carlo
standard error of the estimate (or ``tol`` if larger). Model check (ours): the identities
describe the exact q_beta, while the search follows the tuned model; when a step changed r by
less than half or more than twice what the Taylor model predicted, the next step is the secant
through the last two iterates instead, and a step that changed nothing (a flat curve, e.g. a
saturated criterion) is followed by bisection or doubling (``history[i]["rule"]``). The first beta comes from the
importance-sampling curve of p's samples when the target lies in its reliable range,
else from the Gaussian approximation KL = beta^2 Var_p f / 2 (E f = m_p + beta Var_p f).
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .estimators import tilt_curve
from .flows import FlowConfig
from .tuning import tune

__all__ = ["find_beta", "find_beta_gradient_free", "search_beta", "beta_step", "initial_beta", "UnreachableTargetError", "check_f_values"]


class UnreachableTargetError(ValueError):
    """The requested E f or KL cannot be reached (above a bound of f, or beyond beta_max)."""


def beta_step(r: float, d1: float, d2: float) -> float:
    """Step s solving r + d1 s + d2 s^2 / 2 = 0 (root nearest 0); Newton when complex."""
    disc = d1 * d1 - 2.0 * d2 * r
    if d1 > 0 and disc >= 0:
        return -2.0 * r / (d1 + math.sqrt(disc))
    if d1 > 0:
        return -r / d1
    return math.inf if r < 0 else -math.inf


def r_pred(step: float, d1: float, d2: float) -> float:
    """Change of r predicted by the second-order model for a step (the model check compares
    the realised change with it)."""
    return d1 * step + 0.5 * d2 * step * step


def check_f_values(fx, what: str = "f") -> None:
    """Raise ValueError when f returned NaN / inf on samples of p."""
    fx = np.asarray(fx)
    bad = int(np.sum(~np.isfinite(fx)))
    if bad:
        raise ValueError(f"{what} returned NaN or inf on {bad} of {fx.size} samples of p; "
                         "f must be finite on the support of p")


def initial_beta(fx, target_kl: float | None = None, target_mean: float | None = None) -> float:
    """First beta: solve the importance-sampling curve of f over p's samples ``fx`` when the
    target is inside its reliable range (KL < 0.7 log N; E f below the 2nd largest f value),
    else the Gaussian approximation."""
    fx = np.asarray(fx, np.float64)
    sd = float(np.std(fx)) or 1.0
    n = fx.size
    betas = np.concatenate([[0.0], np.geomspace(1e-3, 1e3, 400)]) / sd
    cur = tilt_curve(fx, betas)
    if target_kl is not None:
        if target_kl < 0.7 * math.log(n):
            return float(np.interp(target_kl, np.maximum.accumulate(np.asarray(cur["kl"])),
                                   betas))
        return math.sqrt(2.0 * target_kl) / sd
    if target_mean < np.sort(fx)[-2]:
        return float(np.interp(target_mean, np.maximum.accumulate(np.asarray(cur["mean"])),
                               betas))
    return max(target_mean - float(np.mean(fx)), 0.0) / sd ** 2


def _prepare(key, base, f, target_kl, target_mean, f_sup, beta0, beta_max, n_theory):
    """Validate the target, check f on p's samples, choose beta0 / beta_max."""
    if (target_kl is None) == (target_mean is None):
        raise ValueError("give exactly one of target_kl, target_mean")
    tgt = float(target_kl if target_kl is not None else target_mean)
    name = "target_kl" if target_kl is not None else "target_mean"
    if not math.isfinite(tgt):
        raise ValueError(f"{name}={tgt!r} is invalid: must be a finite number")
    if target_kl is not None and tgt < 0:
        raise ValueError(f"target_kl={tgt!r} is invalid: must be >= 0 (a KL divergence)")
    if target_mean is not None and f_sup is not None and tgt >= f_sup:
        raise UnreachableTargetError(
            f"target_mean={tgt!r} is unreachable: f is bounded by {f_sup:.6g} and E_q f < sup f")
    fx = np.asarray(f(base.sample(key, n_theory)))
    check_f_values(fx)
    sd = float(np.std(fx)) or 1.0
    beta_max = 1e3 / sd if beta_max is None else float(beta_max)
    if beta0 is None:
        below = (target_kl is not None and tgt == 0) or (
            target_mean is not None and tgt <= float(np.mean(fx)))
        beta0 = 0.0 if below else initial_beta(fx, target_kl, target_mean)
    return tgt, name, sd, min(max(float(beta0), 0.0), beta_max), beta_max


def search_beta(evaluate: Callable, keys, tgt: float, kind: str, beta: float, beta_max: float,
                sd: float, tol: float = 0.0, on_iter: Callable | None = None):
    """The safeguarded second-order search (module docstring) around any estimator:
    ``evaluate(key, beta) -> (estimates, payload)`` with estimates holding mean, var, m3, se,
    kl, kl_se. ``kind``: "kl" or "mean". Returns (beta, payload, history)."""
    lo, hi = 0.0, math.inf
    history: list[dict] = []
    best = None
    prev = None                        # (beta, r, predicted change of r) of the last step
    name = "target_kl" if kind == "kl" else "target_mean"
    for it, k in enumerate(keys):
        e, payload = evaluate(k, beta)
        if kind == "kl":
            r, d1, d2 = e["kl"] - tgt, beta * e["var"], e["var"] + beta * e["m3"]
            err = 2.0 * e["kl_se"]
        else:
            r, d1, d2 = e["mean"] - tgt, e["var"], e["m3"]
            err = 2.0 * e["se"]
        thr = max(err, tol)
        converged = abs(r) < thr or (beta == 0.0 and r >= 0)
        entry = {"iter": it, "beta": beta, "residual": r, "tolerance": thr,
                 "converged": bool(converged), "lo": lo, "hi": hi, **e}
        history.append(entry)
        if on_iter is not None:
            on_iter(entry)
        if best is None or abs(r) < abs(best[1]):
            best = (beta, r, payload)
        if converged:
            return beta, payload, history
        if r < 0:
            lo = max(lo, beta)
        else:
            hi = min(hi, beta)
        if r < 0 and beta >= beta_max:
            raise UnreachableTargetError(
                f"{name}={tgt!r} is unreachable: at beta={beta:.4g} (beta_max) the model "
                f"has E f={e['mean']:.4g}, KL={e['kl']:.4g}")
        step, rule, lin = beta_step(r, d1, d2), "second-order", None
        if prev is not None and beta != prev[0]:
            # model check: the tuned model's curve can be flatter or steeper than q_beta's
            # (an imperfect flow, a saturating criterion); when the last step changed r by
            # less than half or more than twice the predicted amount, the secant through the
            # last two iterates is the better local model of the curve actually followed
            slope = (r - prev[1]) / (beta - prev[0])
            ratio = (r - prev[1]) / prev[2] if prev[2] else 0.0
            if abs(prev[2]) > thr and not (0.5 <= ratio <= 2.0):
                if slope > 0:
                    step, rule, lin = -r / slope, "secant", slope
                else:                   # no measurable progress: the curve is flat here
                    step, rule = math.inf if r < 0 else -math.inf, "flat"
        entry["rule"] = rule
        new = beta + step
        if not (lo < new < hi) or not math.isfinite(new):
            new = 0.5 * (lo + hi) if math.isfinite(hi) else max(2.0 * beta, beta + 1.0 / sd)
            entry["rule"] = rule = "bracket" if rule != "flat" else "flat"
        new = min(new, beta_max)
        taken = new - beta
        prev = (beta, r, lin * taken if lin is not None else r_pred(taken, d1, d2))
        beta = new
    beta, _, payload = best
    return beta, payload, history


def find_beta(key, base, f: Callable, target_kl: float | None = None,
              target_mean: float | None = None, *, beta0: float | None = None,
              steps: int = 1000, steps_first: int | None = None, max_iter: int = 10,
              tol: float = 0.0, f_sup: float | None = None, beta_max: float | None = None,
              flow: FlowConfig | None = None, batch: int = 256, learning_rate: float = 1e-3,
              eval_samples: int = 4096, n_theory: int = 20000, chunk: int = 250,
              progress: Callable | None = None, on_iter: Callable | None = None,
              on_train: Callable | None = None):
    """Search beta so that the tuned q_beta has KL(q||p) = ``target_kl`` (C_D, e.g.
    -log rho for "the top rho fraction") or E_q f = ``target_mean`` (C_f).

    Each iteration tunes the flow at the current beta (warm start from the previous one;
    ``steps_first`` steps for the first, default ``steps``), estimates E f, Var f, M3 and KL
    from the tuned model and takes the safeguarded second-order step (module docstring).

    ``f_sup``: a known upper bound of f; a target_mean >= f_sup raises
    :class:`UnreachableTargetError` before any training. ``beta_max`` (default 1e3 / std_p f):
    passing it without reaching the target raises the same error. ``progress(step, total,
    loss)`` is forwarded to :func:`tune`; ``on_train(beta)`` is called before each tuning (the
    beta being trained, e.g. for a progress label); ``on_iter(entry)`` after each iteration.

    Returns ``(beta, tuned, history)``: the beta whose tuned model is closest to the target
    (the last one when converged), its :class:`TunedModel`, and one dict per iteration (beta,
    residual, tolerance, bracket and the tuned model's estimates); ``history[-1]["converged"]``
    says whether the stopping rule was met."""
    k_th, k_run = jax.random.split(key)
    tgt, _, sd, beta, beta_max = _prepare(k_th, base, f, target_kl, target_mean, f_sup, beta0,
                                          beta_max, n_theory)
    state = {"tuned": None, "it": 0}

    def evaluate(k, b):
        first = state["tuned"] is None
        if on_train is not None:
            on_train(b)
        tuned = tune(k, base, f, b, steps=steps_first if (first and steps_first) else steps,
                     init=state["tuned"], flow=flow, batch=batch, learning_rate=learning_rate,
                     eval_samples=eval_samples, chunk=chunk, progress=progress)
        state["tuned"] = tuned
        return tuned.estimates, tuned

    return search_beta(evaluate, jax.random.split(k_run, max_iter), tgt,
                       "kl" if target_kl is not None else "mean", beta, beta_max, sd, tol,
                       on_iter)


def find_beta_gradient_free(key, base, f: Callable, target_kl: float | None = None,
                            target_mean: float | None = None, *, method: str = "smc",
                            n: int = 2000, max_iter: int = 10, tol: float = 0.0,
                            f_sup: float | None = None, beta_max: float | None = None,
                            beta0: float | None = None, n_theory: int = 20000,
                            on_iter: Callable | None = None, **sampler_kwargs):
    """The same search with q_beta sampled by a gradient-free sampler
    (:func:`policysearch.btgm.sample_tilted`; f need not be differentiable). Returns
    (beta, result of sample_tilted, history)."""
    from .gradient_free import sample_tilted
    k_th, k_run = jax.random.split(key)
    tgt, _, sd, beta, beta_max = _prepare(k_th, base, f, target_kl, target_mean, f_sup, beta0,
                                          beta_max, n_theory)

    def evaluate(k, b):
        res = sample_tilted(k, base, f, b, method=method, n=n, **sampler_kwargs)
        e = {k2: res[k2] for k2 in ("mean", "var", "m3", "se", "kl", "log_z")}
        e["kl_se"] = max(b * res["se"], 1e-3)
        return e, res

    return search_beta(evaluate, jax.random.split(k_run, max_iter), tgt,
                       "kl" if target_kl is not None else "mean", beta, beta_max, sd, tol,
                       on_iter)
