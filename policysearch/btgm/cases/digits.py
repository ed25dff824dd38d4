"""Digits case study (paper section 4.1-4.2, appendices C-D) on scikit-learn's bundled 8x8 digits.

No download: ``sklearn.datasets.load_digits`` ships 1797 images (values 0-16, scaled here to
[0, 1]). The generative model p is a small VAE (latent dimension 8, Bernoulli decoder); BTGM
tilts its latent prior with the decoder frozen (section 3.3), so the base is N(0, I_8) with an
exact log-density and a criterion f on images becomes f(dec(z)) on the latent space. The paper
used a GAN / VAE on MNIST; the 8x8 digits keep everything CPU-sized.

Criteria (all maximised, x = decoded image in [0, 1]^64):

* ``log_class``: log h(class | x), h an MLP classifier trained on the digits' labels;
* ``class``: h(class | x) (the paper's f_h: plateaus and cliffs, appendix C);
* ``ink_more`` / ``ink_less``: +/- the pixel sum (the paper's Figs. 6-7).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import models

__all__ = ["CRITERIA", "VAE_SETTINGS", "CLASSIFIER_SETTINGS", "load_data", "vae", "classifier",
           "criterion"]

CRITERIA = ("log_class", "class", "ink_more", "ink_less")
VAE_SETTINGS = dict(latent_dim=8, hidden=(256, 256), steps=6000, batch=128, lr=2e-3, seed=0)
CLASSIFIER_SETTINGS = dict(hidden=(128,), steps=3000, batch=128, lr=2e-3, weight_decay=1e-4,
                           seed=1)
NUM_TRAIN = 1500


@functools.lru_cache(maxsize=1)
def load_data():
    """(x_train, y_train, x_test, y_test): images scaled to [0, 1], shape [n, 64]; a fixed
    permutation (seed 0) puts 1500 images in train and 297 in test."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int32)
    perm = np.random.default_rng(0).permutation(len(x))
    tr, te = perm[:NUM_TRAIN], perm[NUM_TRAIN:]
    return x[tr], y[tr], x[te], y[te]


def vae(cache_dir: str | None = None, **overrides) -> models.VAE:
    """The digits VAE p (trained on the train split, cached on disk)."""
    s = {**VAE_SETTINGS, **overrides}

    def build():
        x = load_data()[0]
        model, _ = models.train_vae(jax.random.key(s["seed"]), x, latent_dim=s["latent_dim"],
                                    hidden=s["hidden"], likelihood="bernoulli",
                                    steps=s["steps"], batch=s["batch"], lr=s["lr"])
        return model

    return models.cached("digits_vae", {"data": "sklearn_digits_train1500", **s}, build, cache_dir)


def classifier(cache_dir: str | None = None, **overrides) -> models.Classifier:
    """The digits classifier h (10 classes, trained on the train split, cached on disk)."""
    s = {**CLASSIFIER_SETTINGS, **overrides}

    def build():
        x, y = load_data()[:2]
        model, _ = models.train_classifier(jax.random.key(s["seed"]), x, y, num_classes=10,
                                           hidden=s["hidden"], steps=s["steps"],
                                           batch=s["batch"], lr=s["lr"],
                                           weight_decay=s["weight_decay"])
        return model

    return models.cached("digits_classifier", {"data": "sklearn_digits_train1500", **s}, build,
                         cache_dir)


def criterion(name: str, h: models.Classifier | None = None, target_class: int = 4):
    """The image-space criterion ``f(x [n, 64]) -> [n]`` called ``name`` (see CRITERIA)."""
    if name == "log_class":
        return lambda x: h.log_probs(x)[:, target_class]
    if name == "class":
        return lambda x: jnp.exp(h.log_probs(x)[:, target_class])
    if name == "ink_more":
        return lambda x: jnp.sum(x, axis=-1)
    if name == "ink_less":
        return lambda x: -jnp.sum(x, axis=-1)
    raise ValueError(f"unknown digits criterion {name!r}; allowed: {', '.join(CRITERIA)}")


# ------------------------------------------------------------------------ CLI registration
def _draw(ax, x, title: str = "", n: int = 36):
    """A 6 x 6 mosaic of 8x8 images on one axis."""
    x = np.asarray(x)[:n].reshape(-1, 8, 8)
    k = int(np.ceil(np.sqrt(len(x))))
    mosaic = np.ones((k * 9, k * 9))
    for i, img in enumerate(x):
        r, c = divmod(i, k)
        mosaic[r * 9: r * 9 + 8, c * 9: c * 9 + 8] = 1.0 - img
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _build(key, cfg: dict):
    from . import CaseModel

    del key                                    # the models are trained with fixed seeds, cached
    target = int(cfg.get("target_class", 4))
    if not 0 <= target <= 9:
        raise ValueError(f"case_cfg.target_class={target!r} is invalid: must be 0..9")
    model, h = vae(), classifier()
    return CaseModel(
        base=model.prior, decoder=model.decode, draw=_draw,
        criteria={name: criterion(name, h, target) for name in CRITERIA},
        info={"data": "scikit-learn load_digits (8x8, bundled), train split 1500 images",
              "p": f"VAE, latent N(0, I_{model.latent_dim}), Bernoulli decoder (mean decoder "
                   "used), tuned in latent space", "target_class": target,
              "criteria": {"log_class": "log h(class|x)", "class": "h(class|x)",
                           "ink_more": "sum of pixels", "ink_less": "-sum of pixels"}})


def _register():
    from . import Case, register

    register(Case(name="digits", build=_build, criteria=CRITERIA,
                  differentiable=frozenset(CRITERIA),
                  f_sup={"log_class": 0.0, "class": 1.0, "ink_more": 64.0, "ink_less": 0.0},
                  defaults={"target_class": 4},
                  description="VAE on scikit-learn's 8x8 digits, classifier / ink criteria"))


_register()
