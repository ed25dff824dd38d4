"""Latent-space tuning (section 3.3): freeze a decoder p(x|z), tilt the latent prior p(z)
with the criterion pushed through the decoder, f~(z) = E_{x ~ p(x|z)} f(x), and decode.

KL(q(x) || p(x)) <= KL(q(z) || p(z)) (app. B): the latent KL the beta search controls is an
upper bound of the data-space KL. Where the decoder is linear-Gaussian the data-space KL is
available in closed form (policysearch.btgm.closed_forms.linear_decoder_tilt) and the tests
check the bound; for a general decoder :func:`data_kl_gaussian_fit` gives a rough (Gaussian
moment-matched) indication only.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["StandardNormal", "latent_criterion", "LatentModel", "data_kl_gaussian_fit"]


@dataclasses.dataclass(frozen=True, eq=False)
class StandardNormal:
    """p(z) = N(0, I_dim): the usual latent prior, a base model for :func:`btgm.tune`."""
    dim: int

    def sample(self, key, n: int):
        return jax.random.normal(key, (n, self.dim))

    def log_prob(self, z):
        return -0.5 * jnp.sum(z ** 2, -1) - 0.5 * self.dim * jnp.log(2 * jnp.pi)


def latent_criterion(decode: Callable, f: Callable, decode_sample: Callable | None = None,
                     num_samples: int = 1, key=None) -> Callable:
    """f~(z) [n, k] -> [n].

    ``decode(z) -> x`` is the decoder mean (the paper's footnote 4: a deterministic or
    low-variance decoder is well approximated by one point): f~(z) = f(decode(z)).
    With ``decode_sample(key, z) -> x`` (one stochastic draw per row) f~ averages f over
    ``num_samples`` draws with a fixed ``key`` (common random numbers: a deterministic,
    differentiable function of z, as the flow's gradient needs)."""
    if decode_sample is None:
        return lambda z: f(decode(z))
    key = jax.random.key(0) if key is None else key
    keys = jax.random.split(key, num_samples)

    def ft(z):
        return jnp.mean(jax.vmap(lambda k: f(decode_sample(k, z)))(keys), 0)
    return ft


@dataclasses.dataclass
class LatentModel:
    """A tuned latent model pushed through the frozen decoder: x = decode(z), z ~ q(z)."""
    latent: object                      # TunedModel (or any sampler of z)
    decode: Callable
    decode_sample: Callable | None = None

    def sample(self, key, n: int):
        k1, k2 = jax.random.split(key)
        z = self.latent.sample(k1, n)
        return self.decode(z) if self.decode_sample is None else self.decode_sample(k2, z)


def data_kl_gaussian_fit(xq, xp) -> float:
    """KL(N(mean_q, cov_q) || N(mean_p, cov_p)) of moment-matched Gaussians of two data-space
    samples: exact for Gaussian laws (e.g. a linear decoder), a rough indication otherwise."""
    from .closed_forms import gaussian_kl
    xq, xp = np.asarray(xq, np.float64), np.asarray(xp, np.float64)
    d = xq.shape[1]
    reg = 1e-6 * np.eye(d)
    return gaussian_kl(xq.mean(0), np.cov(xq.T).reshape(d, d) + reg,
                       xp.mean(0), np.cov(xp.T).reshape(d, d) + reg)
