"""Energy case study (paper section 4.3, appendix E) on SYNTHETIC weekly load curves.

Data: ``energy_data.synthetic_weekly_load`` (10 homes summed, 168 hours, kW; SYNTHETIC, see
there). The generative model p is a VAE (latent dimension 8, Gaussian decoder on curves
standardised per hour); BTGM tilts its latent prior N(0, I_8) with the mean decoder frozen.

Criteria on a curve x [n, 168] in kW (all maximised):

* ``peak``: the weekly maximum max_t x_t (the paper's f1);
* ``peak_smooth``: tau * logsumexp(x / tau), tau = 0.5 kW: a smooth upper bound of the maximum
  (within tau log 168 = 2.6 kW), gradient spread over the hours near the peak;
* ``wednesday``: mean Wednesday load minus the weekly mean (the paper's f2);
* ``l1_flat`` / ``l1_flat_min``: +/- mean_t |x_t - mean(x)|, the L1 distance to the flat curve
  with the same total (appendix E's "MAE"; the consumption to move is 84 times it);
* ``hours_above``: the number of hours above ``HOURS_ABOVE_KW`` = 18 kW (about the 90 % quantile of p's weekly peak): piecewise constant
  (zero gradient almost everywhere), the non-differentiable criterion for gradient-free BTGM.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from . import models
from .energy_data import WEDNESDAY, synthetic_weekly_load

__all__ = ["CRITERIA", "VAE_SETTINGS", "DATA_SETTINGS", "load_data", "vae", "criterion",
           "PEAK_TAU", "HOURS_ABOVE_KW"]

CRITERIA = ("peak", "peak_smooth", "wednesday", "l1_flat", "l1_flat_min", "hours_above")
DATA_SETTINGS = dict(n_train=10000, n_test=2000, seed=0, households=10)
VAE_SETTINGS = dict(latent_dim=8, hidden=(256, 256), steps=6000, batch=256, lr=2e-3, seed=0)
PEAK_TAU = 0.5
HOURS_ABOVE_KW = 18.0


@functools.lru_cache(maxsize=2)
def load_data(n_train: int = DATA_SETTINGS["n_train"], n_test: int = DATA_SETTINGS["n_test"],
              seed: int = DATA_SETTINGS["seed"]):
    """(train, test): SYNTHETIC curves [n, 168] in kW from independent seeds."""
    hh = DATA_SETTINGS["households"]
    return (synthetic_weekly_load(n_train, seed=seed, households=hh),
            synthetic_weekly_load(n_test, seed=seed + 1000, households=hh))


def vae(cache_dir: str | None = None, **overrides) -> models.VAE:
    """The energy VAE p (Gaussian decoder, per-hour standardisation; cached on disk)."""
    s = {**VAE_SETTINGS, **overrides}
    d = {k: s.pop(k) for k in ("n_train", "seed_data") if k in s}
    n_train = d.get("n_train", DATA_SETTINGS["n_train"])

    def build():
        x = load_data(n_train=n_train)[0]
        model, _ = models.train_vae(jax.random.key(s["seed"]), x, latent_dim=s["latent_dim"],
                                    hidden=s["hidden"], likelihood="gaussian", steps=s["steps"],
                                    batch=s["batch"], lr=s["lr"], shift=x.mean(0),
                                    scale=x.std(0))
        return model

    return models.cached("energy_vae", {"data": "synthetic_weekly_load", **DATA_SETTINGS,
                                        "n_train": n_train, **s}, build, cache_dir)


def peak(x):
    return jnp.max(x, axis=-1)


def peak_smooth(x, tau: float = PEAK_TAU):
    return tau * logsumexp(x / tau, axis=-1)


def wednesday(x):
    return jnp.mean(x[..., WEDNESDAY], axis=-1) - jnp.mean(x, axis=-1)


def l1_flat(x):
    return jnp.mean(jnp.abs(x - jnp.mean(x, axis=-1, keepdims=True)), axis=-1)


def hours_above(x, threshold: float = HOURS_ABOVE_KW):
    return jnp.sum((x > threshold).astype(x.dtype), axis=-1)


def criterion(name: str):
    """The curve criterion ``f(x [n, 168]) -> [n]`` called ``name`` (see CRITERIA)."""
    table = {"peak": peak, "peak_smooth": peak_smooth, "wednesday": wednesday,
             "l1_flat": l1_flat, "l1_flat_min": lambda x: -l1_flat(x),
             "hours_above": hours_above}
    if name not in table:
        raise ValueError(f"unknown energy criterion {name!r}; allowed: {', '.join(CRITERIA)}")
    return table[name]


def curves_summary(x) -> dict:
    """Mean/std per hour and f quantiles of a batch of curves (for tables and Fig. 2 plots)."""
    x = np.asarray(x)
    return {"mean": x.mean(0), "std": x.std(0)}


# ------------------------------------------------------------------------ CLI registration
def _draw(ax, x, title: str = ""):
    from .study import plot_load_samples

    plot_load_samples(ax, x, f"{title} (SYNTHETIC)", n=5)


def _build(key, cfg: dict):
    from . import CaseModel

    del key, cfg                               # the model is trained with fixed seeds, cached
    model = vae()
    return CaseModel(
        base=model.prior, decoder=model.decode, draw=_draw,
        criteria={name: criterion(name) for name in CRITERIA},
        info={"data": "SYNTHETIC weekly load curves (policysearch.btgm.cases.energy_data), "
                      "10 homes summed, 168 hours, kW; not measurements",
              "p": f"VAE, latent N(0, I_{model.latent_dim}), Gaussian decoder (mean decoder "
                   "used), tuned in latent space",
              "criteria": {"peak": "max_t x_t", "peak_smooth": f"{PEAK_TAU} logsumexp(x / "
                           f"{PEAK_TAU})", "wednesday": "mean Wednesday - weekly mean",
                           "l1_flat": "mean |x - mean x|", "l1_flat_min": "-mean |x - mean x|",
                           "hours_above": f"hours above {HOURS_ABOVE_KW} kW (not "
                                          "differentiable)"}})


def _register():
    from . import Case, register

    register(Case(name="energy", build=_build, criteria=CRITERIA,
                  differentiable=frozenset(CRITERIA) - {"hours_above"},
                  f_sup={"l1_flat_min": 0.0, "hours_above": 168.0},
                  description="VAE on SYNTHETIC weekly load curves (10 homes), peak / "
                              "Wednesday / flatness criteria"))


_register()
