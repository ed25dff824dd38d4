"""Adversarial refinement case (paper section 4.4, appendix F) on the 8x8 digits.

p is the digits VAE (``digits.vae``); a discriminator D is trained afterwards to tell the
training images (label 1) from p's samples (mean decoder of prior draws, label 0). Its
pre-activation output f(x) = log D(x) / (1 - D(x)) estimates log p_D(x) / p(x), so the tilt
q_beta ∝ p e^{beta f} ≈ p^{1 - beta} p_D^beta moves p toward the data for beta in [0, 1]
(eq. 13). Whether it does is measured independently of D: MMD to the held-out test images,
the accuracy of a fresh discriminator trained on q's samples, and the classifier's confidence.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import digits, models

__all__ = ["DISC_SETTINGS", "discriminator", "criterion", "discriminator_accuracy"]

DISC_SETTINGS = dict(hidden=(128,), steps=3000, batch=256, lr=2e-3, weight_decay=1e-4,
                     num_fake=1500, seed=2)


def _train(key, real, fake, s):
    x = np.concatenate([real, fake])
    y = np.concatenate([np.ones(len(real), np.int32), np.zeros(len(fake), np.int32)])
    return models.train_classifier(key, x, y, num_classes=2, hidden=s["hidden"],
                                   steps=s["steps"], batch=s["batch"], lr=s["lr"],
                                   weight_decay=s["weight_decay"])[0]


def discriminator(vae: models.VAE | None = None, cache_dir: str | None = None,
                  **overrides) -> models.Classifier:
    """D trained on the digits train split vs ``num_fake`` samples of the VAE p (cached)."""
    s = {**DISC_SETTINGS, **overrides}
    vae = vae if vae is not None else digits.vae(cache_dir)

    def build():
        k_fake, k_fit = jax.random.split(jax.random.key(s["seed"]))
        fake = np.asarray(vae.sample(k_fake, s["num_fake"]))
        return _train(k_fit, digits.load_data()[0], fake, s)

    vae_id = models._settings_hash(jax.tree.map(lambda a: float(jnp.sum(a)), vae.params))
    return models.cached("digits_discriminator", {"vae": vae_id, **s}, build, cache_dir)


def criterion(d: models.Classifier):
    """f(x) = logit D(x) = log D / (1 - D) (the discriminator's pre-activation output)."""
    return lambda x: d.logits(x)[:, 1] - d.logits(x)[:, 0]


def discriminator_accuracy(key, real_train, fake_train, real_test, fake_test,
                           **overrides) -> float:
    """Held-out accuracy of a FRESH discriminator trained on (real_train vs fake_train):
    0.5 means the fake samples cannot be told from the data (by this network size)."""
    s = {**DISC_SETTINGS, **overrides}
    d = _train(key, np.asarray(real_train), np.asarray(fake_train), s)
    pr = np.asarray(d.logits(jnp.asarray(real_test)).argmax(-1))
    pf = np.asarray(d.logits(jnp.asarray(fake_test)).argmax(-1))
    return float((np.sum(pr == 1) + np.sum(pf == 0)) / (len(pr) + len(pf)))


# ------------------------------------------------------------------------ CLI registration
def _build(key, cfg: dict):
    from . import CaseModel

    del key, cfg
    model = digits.vae()
    return CaseModel(
        base=model.prior, decoder=model.decode, draw=digits._draw,
        criteria={"discriminator": criterion(discriminator(model))},
        info={"p": "the digits VAE (latent N(0, I_8))",
              "criteria": {"discriminator": "logit of an MLP discriminator, training images "
                                            "vs samples of p (log p_D / p)"}})


def _register():
    from . import Case, register

    register(Case(name="digits_adversarial", build=_build, criteria=("discriminator",),
                  differentiable=frozenset({"discriminator"}),
                  description="adversarial refinement of the digits VAE (section 4.4)"))


_register()
