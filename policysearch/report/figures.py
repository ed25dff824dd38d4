"""Matplotlib (Agg) figures of the report. Each function writes one small PNG and returns its path.

Per run: learning curves, phase-plane trajectories, observation vs time, per-seed outcome strip,
particle returns, QD archive maps and QD curves (runs with an archive). Comparison of several runs: median learning curves, per-seed outcome heat map,
diversity per run.
"""

from __future__ import annotations

import math
import os

import numpy as np

DPI = 80
MAX_COLS = 5


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _grid(n, w=3.0, h=2.4):
    plt = _plt()
    cols = max(1, min(MAX_COLS, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def _save(fig, path):
    """PNG at DPI, quantised to an adaptive 128-colour palette (several times smaller files for
    the dense trajectory plots; visually the same)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")
    _plt().close(fig)
    try:
        from PIL import Image

        buf.seek(0)
        with Image.open(buf) as im:
            im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    except Exception:  # noqa: BLE001 - no Pillow / old Pillow: keep matplotlib's PNG
        with open(path, "wb") as f:
            f.write(buf.getvalue())
    return path


def _colour(label):
    plt = _plt()
    return plt.get_cmap("tab10")(int(label) % 10)


# --------------------------------------------------------------------------------------------
# one run
# --------------------------------------------------------------------------------------------
def learning_curves(analysis, path):
    """Per seed: best-so-far, generation best and median return vs evaluations; threshold;
    first solved generation."""
    seeds = analysis["seeds"]
    curves = analysis["_arrays"]["curves"]
    thr = analysis["solve_threshold"]
    fig, axes = _grid(len(seeds))
    for ax, entry in zip(axes, seeds):
        c = curves.get(entry["seed"])
        ax.set_title(f"seed {entry['seed']}" + (" (solved)" if entry["solved"] else ""), fontsize=9)
        if not c or "evaluations" not in c:
            ax.text(0.5, 0.5, "no metrics", ha="center", va="center", transform=ax.transAxes)
            continue
        x = c["evaluations"]
        for key, style, label in (("best_so_far", dict(color="k", lw=1.5), "best so far"),
                                  ("best_return", dict(color="tab:blue", lw=0.8), "best"),
                                  ("median_return", dict(color="tab:orange", lw=0.8), "median")):
            if key in c:
                ax.plot(x, c[key], label=label, **style)
        if math.isfinite(thr):
            ax.axhline(thr, color="tab:green", ls="--", lw=0.8, label="threshold")
        if entry.get("evaluations_to_solve") is not None:
            ax.axvline(entry["evaluations_to_solve"], color="tab:green", ls=":", lw=0.8)
        ax.set_xlabel("evaluations", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("return", fontsize=8)
    axes[0].legend(fontsize=6, loc="lower right")
    return _save(fig, path)


def _episode0(analysis, j):
    a = analysis["_arrays"]
    obs = a["observations"][j, :, 0]  # [N + 1, T, obs]
    alive = a["alive"][j, :, 0].astype(bool)
    return obs, alive


def _traces(ax, xs, ys, colours, ends=True):
    """One LineCollection for all particles (fast), plus end-of-episode dots."""
    from matplotlib.collections import LineCollection

    segs = [np.column_stack([x, y]) for x, y in zip(xs, ys)]
    ax.add_collection(LineCollection(segs, colors=colours, linewidths=0.7, alpha=0.8))
    if ends:
        ax.scatter([x[-1] for x in xs], [y[-1] for y in ys], c=colours, s=4, zorder=3)
    ax.autoscale_view()


def phase_plane(analysis, path):
    """Every particle's trajectory (first shared initial state) in the plane of the first two
    observation dimensions (position, velocity for MountainCar); colour = behaviour cluster,
    black dashed = best policy. None when the env has fewer than 2 observation dimensions."""
    names = analysis["observation_names"]
    if len(names) < 2:
        return None
    seeds = analysis["seeds"]
    a = analysis["_arrays"]
    n = analysis["num_particles"]
    fig, axes = _grid(len(seeds))
    for j, (ax, entry) in enumerate(zip(axes, seeds)):
        obs, alive = _episode0(analysis, j)
        lengths = [max(int(alive[i].sum()), 1) for i in range(n + 1)]
        _traces(ax, [obs[i, :lengths[i], 0] for i in range(n)], [obs[i, :lengths[i], 1] for i in range(n)],
                [_colour(a["labels"][j][i]) for i in range(n)])
        t = lengths[n]
        ax.plot(obs[n, :t, 0], obs[n, :t, 1], "k--", lw=0.8)
        ax.plot(obs[n, 0, 0], obs[n, 0, 1], "k^", ms=4)
        if a.get("goal") is not None:
            ax.axvline(a["goal"], color="tab:green", ls=":", lw=0.8)
        if a["box"] is not None:
            ax.set_xlim(a["box"][0][0], a["box"][1][0])
            ax.set_ylim(a["box"][0][1], a["box"][1][1])
        nb = entry.get("behaviours")
        ax.set_title(f"seed {entry['seed']}: {nb if nb is not None else '?'} behaviour{'' if nb == 1 else 's'}, "
                     f"{entry['particles_solving']}/{n} solve", fontsize=8)
        ax.set_xlabel(names[0], fontsize=8)
        ax.set_ylabel(names[1], fontsize=8)
        ax.tick_params(labelsize=7)
    return _save(fig, path)


def observation_vs_time(analysis, path):
    """First observation dimension (position for MountainCar) vs time step for every particle
    (first shared initial state); colour = behaviour cluster, black dashed = best policy."""
    names = analysis["observation_names"]
    seeds = analysis["seeds"]
    a = analysis["_arrays"]
    n = analysis["num_particles"]
    fig, axes = _grid(len(seeds))
    for j, (ax, entry) in enumerate(zip(axes, seeds)):
        obs, alive = _episode0(analysis, j)
        lengths = [max(int(alive[i].sum()), 1) for i in range(n + 1)]
        _traces(ax, [np.arange(lengths[i]) for i in range(n)], [obs[i, :lengths[i], 0] for i in range(n)],
                [_colour(a["labels"][j][i]) for i in range(n)], ends=False)
        t = lengths[n]
        ax.plot(np.arange(t), obs[n, :t, 0], "k--", lw=0.8)
        if a.get("goal") is not None:
            ax.axhline(a["goal"], color="tab:green", ls=":", lw=0.8)
        ax.set_title(f"seed {entry['seed']}", fontsize=8)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel(names[0], fontsize=8)
        ax.tick_params(labelsize=7)
    return _save(fig, path)


OUTCOME_ROWS = (
    ("solved", "solved"),
    ("first_solved_generation", "first solve gen"),
    ("best_return", "best return"),
    ("particles_solving_fraction", "particles solving"),
    ("vendi_params", "Vendi params"),
    ("vendi_actions", "Vendi actions"),
    ("vendi_trajectories", "Vendi traj."),
    ("behaviours", "behaviours"),
)


def outcome_strip(analysis, path):
    """Heat map: rows = outcome / diversity metrics, columns = seeds; each row coloured on its
    own scale (dark = high; first-solve generation: dark = early), values written in the cells."""
    plt = _plt()
    seeds = analysis["seeds"]
    rows = [(k, lbl) for k, lbl in OUTCOME_ROWS if any(s.get(k) is not None for s in seeds)]
    vals = np.array([[np.nan if s.get(k) is None else float(s[k]) for s in seeds] for k, _ in rows])
    shade = np.full_like(vals, np.nan)
    for r, (k, _) in enumerate(rows):
        v = vals[r]
        ok = np.isfinite(v)
        if not ok.any():
            continue
        lo, hi = np.nanmin(v), np.nanmax(v)
        z = (v - lo) / (hi - lo) if hi > lo else np.full_like(v, 0.5)
        if k == "first_solved_generation":
            z = 1.0 - z
        shade[r] = np.where(ok, 0.15 + 0.7 * z, np.nan)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(seeds), 0.5 + 0.32 * len(rows)))
    cmap = plt.get_cmap("Blues").with_extremes(bad="#eeeeee")
    ax.imshow(np.ma.masked_invalid(shade), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for r, (k, _) in enumerate(rows):
        for c in range(len(seeds)):
            v = vals[r, c]
            if not np.isfinite(v):
                txt = "never" if k == "first_solved_generation" else "-"
            elif k == "solved":
                txt = "yes" if v else "no"
            elif k in ("first_solved_generation", "behaviours"):
                txt = f"{int(v)}"
            elif k == "particles_solving_fraction":
                txt = f"{100 * v:.0f}%"
            else:
                txt = f"{v:.3g}"
            ax.text(c, r, txt, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(seeds)), [str(s["seed"]) for s in seeds], fontsize=7)
    ax.set_yticks(range(len(rows)), [lbl for _, lbl in rows], fontsize=7)
    ax.set_xlabel("seed", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def particle_returns(analysis, path):
    """Heat map of each particle's mean return on the shared initial states (rows = seeds,
    particles sorted by return); tick = reaches the solve threshold (red line on the colour bar)."""
    plt = _plt()
    seeds = analysis["seeds"]
    r = np.array([sorted(s["particle_returns"], reverse=True) for s in seeds])
    thr = analysis["solve_threshold"]
    fig, ax = plt.subplots(figsize=(1.5 + 0.3 * r.shape[1], 0.6 + 0.3 * len(seeds)))
    vmin, vmax = float(np.min(r)), float(np.max(r))
    vmax = max(vmax, vmin + 1e-9)
    im = ax.imshow(r, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    for (row, col), v in np.ndenumerate(r):
        if math.isfinite(thr) and v >= thr:
            ax.text(col, row, "\u2713", ha="center", va="center", fontsize=7, color="w")
    ax.set_yticks(range(len(seeds)), [str(s["seed"]) for s in seeds], fontsize=7)
    ax.set_xticks([])
    ax.set_xlabel("particles (sorted by return)", fontsize=8)
    ax.set_ylabel("seed", fontsize=8)
    cb = fig.colorbar(im, ax=ax, fraction=0.05)
    cb.ax.tick_params(labelsize=7)
    if math.isfinite(thr) and vmin <= thr <= vmax:
        cb.ax.axhline(thr, color="r", lw=1.5)
    fig.tight_layout()
    return _save(fig, path)


def archive_maps(analysis, path):
    """Per seed, the QD archive's elite fitness per cell: a 2-D grid as an image, a 1-D grid as
    bars, CVT cells (D > 2) as centroids in the first two dimensions; x = solving cell."""
    from ..qd.centroids import grid_shape

    archives = analysis["_arrays"].get("archives") or []
    if not archives:
        return None
    plt = _plt()
    thr = analysis["solve_threshold"]
    fig, axes = _grid(len(archives), w=3.2, h=2.8)
    for ax, arch in zip(axes, archives):
        fit = arch.all_fitnesses().astype(np.float64)
        names, (c, d) = arch.descriptor_names, arch.centroids.shape
        shape = grid_shape(c, d) if d <= 2 else None
        filled = np.isfinite(fit)
        vmin, vmax = (float(fit[filled].min()), float(fit[filled].max())) if filled.any() else (0.0, 1.0)
        if d == 2 and shape:
            im = ax.imshow(np.ma.masked_invalid(np.where(filled, fit, np.nan)).reshape(shape[1], shape[0]),
                           origin="lower", aspect="auto", cmap="viridis", vmin=vmin, vmax=max(vmax, vmin + 1e-9),
                           extent=[arch.low[0], arch.high[0], arch.low[1], arch.high[1]])
            fig.colorbar(im, ax=ax, fraction=0.05).ax.tick_params(labelsize=6)
        elif d == 1:
            width = float(arch.high[0] - arch.low[0]) / c
            ax.bar(arch.centroids[filled, 0], fit[filled], width=width, color="tab:blue")
            ax.set_ylabel("elite return", fontsize=7)
        else:
            sc = ax.scatter(arch.centroids[filled, 0], arch.centroids[filled, 1], c=fit[filled], s=6, cmap="viridis")
            fig.colorbar(sc, ax=ax, fraction=0.05).ax.tick_params(labelsize=6)
        if d >= 2 and math.isfinite(thr) and (fit >= thr).any():
            solving = fit >= thr
            ax.plot(arch.centroids[solving, 0], arch.centroids[solving, 1], "x", color="w", ms=3, mew=0.8)
        solving_n = int((fit >= thr).sum()) if math.isfinite(thr) else 0
        ax.set_title(f"seed {arch.seed}: {int(filled.sum())}/{c} cells, {solving_n} solving", fontsize=8)
        ax.set_xlabel(names[0], fontsize=8)
        if d >= 2:
            ax.set_ylabel(names[1], fontsize=8)
        ax.tick_params(labelsize=7)
    return _save(fig, path)


def qd_curves(analysis, path):
    """QD-score and coverage of every seed's archive vs policy evaluations (metrics.jsonl)."""
    curves = analysis["_arrays"]["curves"]
    seeds = [e["seed"] for e in analysis["seeds"] if "qd_score" in curves.get(e["seed"], {})]
    if not seeds:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.6), layout="constrained")
    for i, s in enumerate(seeds):
        c = curves[s]
        axes[0].plot(c["evaluations"], c["qd_score"], color=_colour(i), lw=0.9, label=f"seed {s}")
        axes[1].plot(c["evaluations"], c["coverage"], color=_colour(i), lw=0.9)
    for ax, label in zip(axes, ("QD score", "coverage (% of cells)")):
        ax.set_xlabel("evaluations", fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
    if len(seeds) <= 10:
        axes[0].legend(fontsize=6)
    return _save(fig, path)


def write_run_figures(analysis, out_dir) -> dict[str, str]:
    """All per-run figures; {name: path} of those written."""
    out = {}
    for name, fn in (("learning_curves", learning_curves), ("phase_plane", phase_plane),
                     ("observation_vs_time", observation_vs_time), ("outcomes", outcome_strip),
                     ("particle_returns", particle_returns), ("archive_maps", archive_maps),
                     ("qd_curves", qd_curves)):
        p = fn(analysis, os.path.join(out_dir, f"{name}.png"))
        if p:
            out[name] = p
    return out


# --------------------------------------------------------------------------------------------
# several runs
# --------------------------------------------------------------------------------------------
def compare_curves(runs, path):
    """Median over seeds of best-so-far return vs evaluations (band: 25-75 %), one line per run."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    thr = None
    for i, run in enumerate(runs):
        curves = run["curves"]
        if not curves:
            continue
        length = min(len(c["best_so_far"]) for c in curves.values())
        if length == 0:
            continue
        y = np.stack([c["best_so_far"][:length] for c in curves.values()])
        x = next(iter(curves.values()))["evaluations"][:length]
        q25, med, q75 = np.percentile(y, [25, 50, 75], axis=0)
        col = _colour(i)
        ax.plot(x, med, color=col, label=run["label"])
        ax.fill_between(x, q25, q75, color=col, alpha=0.2)
        thr = run["solve_threshold"]
    if thr is not None and math.isfinite(thr):
        ax.axhline(thr, color="k", ls="--", lw=0.8, label="threshold")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best return so far (median over seeds)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def compare_seeds(runs, path):
    """Heat map: rows = runs, columns = seeds; cell = first solved generation (darker = earlier),
    grey = never solved during training; validated solves marked with a tick."""
    plt = _plt()
    width = max(len(r["data"]["seeds"]) for r in runs)
    firsts = np.full((len(runs), width), np.nan)
    solved = np.zeros((len(runs), width), bool)
    present = np.zeros((len(runs), width), bool)
    for i, run in enumerate(runs):
        for c, s in enumerate(run["data"]["seeds"]):
            present[i, c] = True
            solved[i, c] = bool(s["solved"])
            if s["first_solved_generation"] is not None:
                firsts[i, c] = s["first_solved_generation"]
    fig, ax = plt.subplots(figsize=(2.0 + 0.45 * width, 0.8 + 0.4 * len(runs)))
    cmap = plt.get_cmap("viridis_r").with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(firsts), cmap=cmap, aspect="auto")
    for i in range(len(runs)):
        for c in range(width):
            if not present[i, c]:
                continue
            txt = "-" if np.isnan(firsts[i, c]) else f"{int(firsts[i, c])}"
            ax.text(c, i, txt + ("\u2713" if solved[i, c] else ""), ha="center", va="center", fontsize=7,
                    color="w" if np.isfinite(firsts[i, c]) else "k")
    ax.set_yticks(range(len(runs)), [r["label"] for r in runs], fontsize=7)
    ax.set_xticks(range(width), [str(c) for c in range(width)], fontsize=7)
    ax.set_xlabel("seed index (cell: first solved generation; \u2713 = validated solved)", fontsize=7)
    if np.isfinite(firsts).any():
        cb = fig.colorbar(im, ax=ax, fraction=0.04)
        cb.ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _save(fig, path)


COMPARE_METRICS = (
    ("vendi_params", "Vendi (params)"),
    ("vendi_actions", "Vendi (actions)"),
    ("vendi_trajectories", "Vendi (trajectories)"),
    ("behaviours", "distinct behaviours"),
)


def compare_diversity(runs, path):
    """Per-seed values (dots) and median (bar) of the diversity metrics, one column per run."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(COMPARE_METRICS), figsize=(3.0 * len(COMPARE_METRICS), 2.8), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (key, title) in zip(axes.flat, COMPARE_METRICS):
        for i, run in enumerate(runs):
            v = np.array([s.get(key) for s in run["data"]["seeds"] if s.get(key) is not None], float)
            if v.size == 0:
                continue
            ax.bar(i, np.median(v), color=_colour(i), alpha=0.35, width=0.7)
            ax.plot(i + rng.uniform(-0.2, 0.2, v.size), v, "o", color=_colour(i), ms=3)
        ax.set_xticks(range(len(runs)), [r["label"] for r in runs], rotation=30, ha="right", fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _save(fig, path)
