"""Shared pieces of the BTGM case studies: a latent-space problem from a VAE and an image/curve
criterion, a warm-started sweep over beta, and the case-study figures.

The estimators, the flow tuning, the beta search and the criterion assessment are the core
module's (``policysearch.btgm``); this module only strings them together for the scripts in
experiments/ and for the CLI's case registry.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..assess import normalize_criterion
from ..latent import StandardNormal, latent_criterion
from ..tuning import TunedModel, tune

__all__ = ["experiment_setup", "write_results", "save_figure", "LatentProblem",
           "latent_problem", "beta_sweep", "sweep_rows", "is_weights", "beta_label", "plot_curves",
           "plot_image_rows", "plot_load_band", "plot_load_samples", "SYNTHETIC_NOTE"]

SYNTHETIC_NOTE = "SYNTHETIC data (policysearch.btgm.cases.energy_data), not measurements"


def experiment_setup(doc: str, out: str, argv=None, extra: Callable | None = None):
    """The common command line of the case-study scripts: ``--quick``, ``--out`` (default
    ``out``), ``--figures`` (docs/figures/btgm), ``--seed``, plus ``extra(parser)``. Creates
    the folders and enables the JAX compile cache. Returns (args, log) with ``log(msg)``
    printing the elapsed time."""
    import argparse
    import os
    import time

    from policysearch import compile_cache

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    ap.add_argument("--out", default=out)
    ap.add_argument("--figures", default="docs/figures/btgm")
    ap.add_argument("--seed", type=int, default=0)
    if extra is not None:
        extra(ap)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.figures, exist_ok=True)
    compile_cache.enable()
    t0 = time.time()

    def log(msg: str):
        print(f"[{time.time() - t0:6.1f}s] {msg}", flush=True)

    return args, log


def write_results(out_dir: str, res: dict, md: str, stem: str = "results"):
    """``<stem>.json`` (res) and ``<stem>.md`` (md, also printed) under ``out_dir``."""
    import json
    import os

    with open(os.path.join(out_dir, f"{stem}.json"), "w") as fh:
        json.dump(res, fh, indent=1, default=float)
    with open(os.path.join(out_dir, f"{stem}.md"), "w") as fh:
        fh.write(md)
    print(md)


@dataclasses.dataclass(frozen=True, eq=False)
class LatentProblem:
    """BTGM in the latent space of a frozen decoder: ``base`` = N(0, I_k), ``f(z)`` the
    normalised criterion f_x(decode(z)) (mean 0, std 1 under p), ``raw(x)`` the criterion in
    data units, f = (raw - shift) / scale."""

    base: StandardNormal
    f: Callable
    decode: Callable
    raw: Callable
    shift: float
    scale: float

    def raw_of_normalised(self, v):
        return self.shift + self.scale * np.asarray(v)


def latent_problem(key, decode: Callable, latent_dim: int, f_x: Callable,
                   n_normalise: int = 20000, normalise: bool = True) -> LatentProblem:
    """The latent problem for criterion ``f_x`` (data space) through ``decode`` (mean decoder);
    f normalised on ``n_normalise`` samples of p (or left raw with ``normalise=False``)."""
    base = StandardNormal(latent_dim)
    ft = latent_criterion(decode, f_x)
    if not normalise:
        return LatentProblem(base, ft, decode, f_x, 0.0, 1.0)
    fn, m, s = normalize_criterion(ft, base.sample(key, n_normalise))
    return LatentProblem(base, fn, decode, f_x, m, s)


def beta_sweep(key, base, f: Callable, betas, steps_first: int = 1500, steps: int = 600,
               on_beta: Callable | None = None, **tune_kw) -> list[TunedModel]:
    """Tuned models at increasing ``betas``, each warm-started from the previous (Alg. 1's
    warm start); beta = 0 is the identity flow without training."""
    out, prev = [], None
    chunk = tune_kw.get("chunk", 250)
    for i, (b, k) in enumerate(zip(betas, jax.random.split(key, len(betas)))):
        if b == 0:      # p itself: the identity flow, one chunk at a negligible learning rate
            prev = tune(k, base, f, 0.0, steps=chunk, init=prev,
                        **{**tune_kw, "learning_rate": 1e-12})
        else:
            first = prev is None or (i == 1 and betas[0] == 0)
            prev = tune(k, base, f, float(b), steps=steps_first if first else steps,
                        init=prev, **tune_kw)
        out.append(prev)
        if on_beta is not None:
            on_beta(i, prev)
    return out


def sweep_rows(tuned: list[TunedModel], f_p) -> list[dict]:
    """One row per tuned model: beta, empirical E f and KL, gap, ESS, and the theory at the same
    beta: ``is_mean``, ``is_kl``, ``is_ess``, ``is_log_z`` by importance sampling on ``f_p``, f on
    ONE common sample of p - the one the figure's theory curve uses - for every beta. (Each tuned
    model's own IS values use fresh draws per beta: on a heavy-tailed f they scatter from beta to
    beta, e.g. E f non-monotone although dE f / dbeta = Var f >= 0.)"""
    from ..estimators import tilt_curve

    keys = ("mean", "kl", "gap", "ess_flow", "se", "kl_se")
    rows = [{"beta": t.beta, **{k: float(t.estimates[k]) for k in keys}} for t in tuned]
    cur = tilt_curve(f_p, [r["beta"] for r in rows])
    for j, r in enumerate(rows):
        r.update({f"is_{k}": float(cur[k][j]) for k in ("mean", "kl", "ess", "log_z")})
    return rows


def is_weights(f_p, beta: float) -> np.ndarray:
    """Self-normalised importance weights softmax(beta f_p) of p's samples for q_beta (float64):
    averages under q_beta of anything measured on the same samples (class fractions, ...)."""
    v = float(beta) * np.asarray(f_p, np.float64)
    w = np.exp(v - v.max())
    return w / w.sum()


def beta_label(row: dict) -> str:
    """Row label of the sample grids: beta and the tuned KL (no "-0.0" for a tiny negative
    Monte-Carlo KL at beta = 0)."""
    return f"b={row['beta']:g}\nKL={round(row['kl'], 1) + 0.0:.1f}"


# =========================================================================================
# figures
# =========================================================================================
def save_figure(fig, path: str, dpi: int = 90):
    """Save a matplotlib figure as a small PNG (256-colour palette) and close it."""
    import matplotlib.pyplot as plt
    from PIL import Image

    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)


def plot_curves(path: str, theory: dict, series: dict, title: str, smc: dict | None = None):
    """Figs. 3-4 layout: E f vs beta, KL vs beta, E f vs KL (Pareto front). ``theory``:
    {"beta", "mean", "kl"} (IS curve, plain line); ``series``: {label: rows from
    :func:`sweep_rows`} (markers, dashed); ``smc`` optional {"beta", "mean", "kl"} points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    tb, tm, tk = (np.asarray(theory[k]) for k in ("beta", "mean", "kl"))
    axes[0].plot(tb, tm, "k-", lw=1.5, label=theory.get("label", "theory (IS on p's samples)"))
    axes[1].plot(tb, tk, "k-", lw=1.5)
    axes[2].plot(tk, tm, "k-", lw=1.5)
    if smc is not None:
        axes[0].plot(smc["beta"], smc["mean"], "k^", ms=5, label="theory (tempered SMC)")
        axes[1].plot(smc["beta"], smc["kl"], "k^", ms=5)
        axes[2].plot(smc["kl"], smc["mean"], "k^", ms=5)
    for label, rows in series.items():
        b = [r["beta"] for r in rows]
        m = [r["mean"] for r in rows]
        k = [r["kl"] for r in rows]
        axes[0].plot(b, m, "o--", label=label)
        axes[1].plot(b, k, "o--")
        axes[2].plot(k, m, "o--")
    axes[0].set(xlabel="beta", ylabel="E_q f", title="E_q f vs beta")
    axes[1].set(xlabel="beta", ylabel="KL(q||p)", title="KL vs beta")
    axes[2].set(xlabel="KL(q||p)", ylabel="E_q f", title="Pareto front")
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def plot_image_rows(path: str, rows: list, labels: list[str], title: str, side: int = 8):
    """A grid of images: one row per beta (``rows[i]`` [m, side*side]), labelled on the left."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r, m = len(rows), len(rows[0])
    fig, axes = plt.subplots(r, m, figsize=(0.7 * m + 1.2, 0.7 * r + 0.5), squeeze=False)
    for i, imgs in enumerate(rows):
        for j in range(m):
            ax = axes[i, j]
            ax.imshow(np.asarray(imgs[j]).reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(labels[i], rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def _days_axis(ax):
    ax.set_xticks(np.arange(0, 169, 24))
    ax.set_xticklabels(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", ""], fontsize=7)
    ax.set_ylabel("kW (10 homes)")


def plot_load_band(ax, curves: dict, title: str):
    """Fig. 2d/f: mean +- std per hour of each set of curves {label: [n, 168]}."""
    t = np.arange(168)
    for label, x in curves.items():
        x = np.asarray(x)
        m, s = x.mean(0), x.std(0)
        line, = ax.plot(t, m, lw=1.2, label=label)
        ax.fill_between(t, m - s, m + s, color=line.get_color(), alpha=0.2)
    _days_axis(ax)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def plot_load_samples(ax, x, title: str, n: int = 5):
    """Fig. 2a-c/e: ``n`` curves."""
    for c in np.asarray(x)[:n]:
        ax.plot(np.arange(168), c, lw=0.8)
    _days_axis(ax)
    ax.set_title(title, fontsize=9)
