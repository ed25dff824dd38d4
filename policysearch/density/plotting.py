"""Figures for the density module (matplotlib, Agg backend): sample scatter over density
contours, motion-planning paths coloured by homotopy class, metric-vs-evaluations curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .base import Target  # noqa: E402

__all__ = ["plot_samples", "plot_paths", "plot_curves", "plot_density_contour", "save"]

CLASS_COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
                 "tab:pink", "tab:olive"]


def plot_density_contour(ax, target: Target, bounds=None, resolution: int = 200, levels=12):
    """Filled contours of p (2-D targets only)."""
    import jax
    import jax.numpy as jnp
    (x0, x1), (y0, y1) = bounds or target.plot_bounds
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    xx, yy = np.meshgrid(xs, ys)
    pts = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], 1), jnp.float32)
    lp = np.asarray(jax.jit(jax.vmap(target.log_prob))(pts)).reshape(xx.shape)
    p = np.exp(lp - np.nanmax(lp))
    ax.contourf(xx, yy, p, levels=levels, cmap="Blues")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def plot_paths(ax, target, samples, labels=None, alpha: float = 0.35, max_paths: int = 300,
               lw: float = 1.0):
    """Motion-planning paths start -> waypoints -> goal, coloured by homotopy class."""
    samples = np.asarray(samples)[:max_paths]
    if labels is None:
        labels = np.asarray(target.mode_labels(samples))
    start, goal = np.asarray(target.start), np.asarray(target.goal)
    for x, c in zip(samples, labels):
        w = np.concatenate([start[None], x.reshape(-1, 2), goal[None]], 0)
        ax.plot(w[:, 0], w[:, 1], "-", color=CLASS_COLOURS[int(c) % len(CLASS_COLOURS)],
                alpha=alpha, lw=lw)
    for (cx, cy), r in zip(np.asarray(target.centres), np.asarray(target.radii)):
        ax.add_patch(plt.Circle((cx, cy), r, color="0.3", alpha=0.8))
    ax.plot(*start, "ks", ms=6)
    ax.plot(*goal, "k*", ms=10)
    (x0, x1), (y0, y1) = target.plot_bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")


def plot_samples(ax, target: Target, samples, ground_truth=None, title: str | None = None,
                 s: float = 14.0):
    """Particles over the density (2-D) or over ground-truth points (first two coordinates)."""
    samples = np.asarray(samples)
    if hasattr(target, "centres") and hasattr(target, "start"):
        plot_paths(ax, target, samples, alpha=0.8, lw=1.2)
    elif target.dim == 2:
        plot_density_contour(ax, target)
        ax.scatter(samples[:, 0], samples[:, 1], s=s, c="tab:red", edgecolors="k",
                   linewidths=0.4, zorder=3)
    else:
        if ground_truth is not None:
            g = np.asarray(ground_truth)
            ax.scatter(g[:, 0], g[:, 1], s=2, c="0.7", alpha=0.5, label="ground truth")
        ax.scatter(samples[:, 0], samples[:, 1], s=s, c="tab:red", edgecolors="k",
                   linewidths=0.4, zorder=3, label="particles")
        ax.set_xlabel("x[0]")
        ax.set_ylabel("x[1]")
    if title:
        ax.set_title(title, fontsize=9)


def plot_curves(ax, evaluations, curves: dict, ylabel: str, linthresh: float | None = 1e-3):
    """Mean +- std over seeds of each curve [num_seeds, num_records] against evaluations.
    U-statistics can be slightly negative, so the y axis is symlog (linear within
    +-``linthresh``) unless ``linthresh`` is None (linear axis)."""
    for i, (name, c) in enumerate(curves.items()):
        c = np.asarray(c, np.float64)
        m, sd = c.mean(0), c.std(0)
        col = CLASS_COLOURS[i % len(CLASS_COLOURS)]
        ax.plot(evaluations, m, label=name, color=col)
        ax.fill_between(evaluations, m - sd, m + sd, color=col, alpha=0.15)
    if linthresh is not None:
        ax.set_yscale("symlog", linthresh=linthresh)
    ax.set_xlabel("function evaluations")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def save(fig, path: str, dpi: int = 90):
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
