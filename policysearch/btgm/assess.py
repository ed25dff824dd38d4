"""Ex-ante criterion assessment (section 4.2, app. C).

On samples of p: normalise f to mean 0 / variance 1 under p (the Pareto front is invariant to
affine maps of f; a scale change only rescales beta), then look at the distribution of
||grad f_normalised|| (grad log(q_beta / p) = beta grad f, eq. 12). A spike at 0 plus a long
tail (plateaus and cliffs, e.g. f = h(l|x) for a classifier h) makes the flow's optimisation
hard; a compact distribution (log h) is easier.

Ranking rule (ours; the paper compares histograms by eye): the *concentration ratio*
E||g||^2 / (E||g||)^2 of the normalised gradient norm (1 when the norm is constant, large when
a few cliffs carry the gradient); lower is smoother. We also report the fraction of
near-zero gradients (||g|| < ``eps`` x the median norm of the pooled candidates), the
50/90/99 % quantiles and the max. After tuning, :func:`fit_report` compares the theoretical
(IS / SMC) curves with the tuned models' empirical E f(beta), KL(beta).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .estimators import tilt_curve

__all__ = ["normalize_criterion", "gradient_norms", "gradient_summary", "compare_criteria",
           "pareto_front", "fit_report", "assess_criterion"]


def normalize_criterion(f: Callable, x_p) -> tuple[Callable, float, float]:
    """(f_n, m, s) with f_n = (f - m) / s, m and s the mean and std of f over x_p ~ p."""
    fx = np.asarray(f(x_p), np.float64)
    m, s = float(np.mean(fx)), float(np.std(fx))
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"the criterion is constant or not finite on samples of p (std={s})")
    return (lambda x: (f(x) - m) / s), m, s


def gradient_norms(f: Callable, x, batch: int = 4096) -> np.ndarray:
    """||grad_x f(x)|| per row of x [n, d] (f: [n, d] -> [n], differentiable)."""
    g1 = jax.jit(jax.vmap(jax.grad(lambda v: f(v[None])[0])))
    x = jnp.asarray(x)
    out = [np.asarray(jnp.linalg.norm(g1(x[i:i + batch]), axis=-1))
           for i in range(0, x.shape[0], batch)]
    return np.concatenate(out)


def gradient_summary(norms, zero_level: float, bins: int = 40) -> dict:
    """Quantiles, concentration ratio, near-zero fraction and a histogram of gradient norms."""
    g = np.asarray(norms, np.float64)
    g = g[np.isfinite(g)]
    q50, q90, q99 = np.quantile(g, [0.5, 0.9, 0.99])
    hist, edges = np.histogram(g, bins=bins, range=(0.0, float(np.quantile(g, 0.995)) or 1.0))
    mean = float(np.mean(g))
    return {"mean": mean, "q50": float(q50), "q90": float(q90), "q99": float(q99),
            "max": float(np.max(g)), "frac_near_zero": float(np.mean(g < zero_level)),
            "concentration": float(np.mean(g ** 2) / max(mean ** 2, 1e-30)),
            "hist": hist.tolist(), "edges": edges.tolist()}


def assess_criterion(f: Callable, x_p, betas=None, zero_level: float | None = None) -> dict:
    """Normalise f on x_p ~ p, summarise its gradient norms and its theoretical IS curves.
    Returns {"shift", "scale", "grad": gradient_summary, "curve": {beta, mean, kl, ess}}."""
    fn, m, s = normalize_criterion(f, x_p)
    norms = gradient_norms(fn, x_p)
    zl = 0.01 * float(np.median(norms)) if zero_level is None else zero_level
    betas = np.linspace(0.0, 3.0, 31) if betas is None else np.asarray(betas)
    cur = tilt_curve(np.asarray(fn(x_p)), betas)
    return {"shift": m, "scale": s, "norms": norms, "grad": gradient_summary(norms, zl),
            "curve": {"beta": betas.tolist(), **{k: np.asarray(cur[k]).tolist()
                                                 for k in ("mean", "kl", "ess")}}}


def compare_criteria(x_p, criteria: dict, eps: float = 0.01) -> tuple[str, dict]:
    """Rank candidate criteria {name: f} for the same goal by the smoothness of their
    normalised gradient norms under p (lower concentration ratio first).

    Returns (one-line verdict, {name: gradient summary}). The near-zero level is ``eps`` x
    the median norm over all candidates pooled (the same level for every candidate)."""
    norms = {}
    for name, f in criteria.items():
        fn, _, _ = normalize_criterion(f, x_p)
        norms[name] = gradient_norms(fn, x_p)
    zl = eps * float(np.median(np.concatenate(list(norms.values()))))
    summ = {k: gradient_summary(v, zl) for k, v in norms.items()}
    order = sorted(summ, key=lambda k: summ[k]["concentration"])
    parts = [f"{k}: concentration {summ[k]['concentration']:.2f}, "
             f"{100 * summ[k]['frac_near_zero']:.0f}% near 0, q99 {summ[k]['q99']:.2f}"
             for k in order]
    line = f"prefer {order[0]} (smoother gradients under p) | " + " | ".join(parts)
    return line, {"order": order, **summ}


def pareto_front(mean, kl) -> np.ndarray:
    """Indices of the (KL, E f) points not dominated (lower KL and higher E f), sorted by KL."""
    mean, kl = np.asarray(mean), np.asarray(kl)
    idx = np.argsort(kl)
    front, best = [], -np.inf
    for i in idx:
        if mean[i] > best:
            front.append(int(i))
            best = mean[i]
    return np.asarray(front, int)


def fit_report(theory: dict, empirical: list[dict]) -> dict:
    """Compare theoretical curves {"beta", "mean", "kl"} (interpolated) with the tuned models'
    estimates (dicts with beta, mean, kl): mean absolute differences and per-beta rows."""
    tb = np.asarray(theory["beta"])
    rows = []
    for e in empirical:
        tm = float(np.interp(e["beta"], tb, theory["mean"]))
        tk = float(np.interp(e["beta"], tb, theory["kl"]))
        rows.append({"beta": e["beta"], "mean_theory": tm, "mean_emp": e["mean"],
                     "kl_theory": tk, "kl_emp": e["kl"]})
    return {"rows": rows,
            "mean_abs_err": float(np.mean([abs(r["mean_theory"] - r["mean_emp"]) for r in rows]))
            if rows else float("nan"),
            "kl_abs_err": float(np.mean([abs(r["kl_theory"] - r["kl_emp"]) for r in rows]))
            if rows else float("nan")}
