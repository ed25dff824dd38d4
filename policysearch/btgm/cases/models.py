"""Small generative models and classifiers for the BTGM case studies, trained once and cached.

* ``train_vae``: a VAE (MLP encoder/decoder, ``policysearch.policy.MLP``) with a Bernoulli
  (pixels in [0, 1]) or Gaussian (standardised curves, one learned noise scale) likelihood.
  BTGM tilts its latent prior N(0, I) with the decoder frozen (paper section 3.3), so the base
  distribution has an exact log-density (``StandardNormal``) and the criterion is read on the
  mean decoder output x = dec(z) (the paper's footnote 4: a deterministic decoder).
* ``train_classifier``: an MLP classifier (the digits' h, and the adversarial discriminator).
* ``cached``: a model's parameters saved under ``~/.cache/policysearch/btgm_models/``
  (``$POLICYSEARCH_BTGM_CACHE`` moves it) keyed by a hash of its settings, so reruns of the case
  studies and the CLI skip training, from any directory.

Training is one ``lax.scan`` over Adam steps (one compiled program, no per-step host sync).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Callable

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from policysearch.policy import MLP

from ..latent import StandardNormal

__all__ = [
    "VAE",
    "train_vae",
    "Classifier",
    "train_classifier",
    "cached",
    "default_cache_dir",
]


def default_cache_dir() -> str:
    """Where trained case models live: $POLICYSEARCH_BTGM_CACHE, else btgm_models/ in the
    project's user cache (``~/.cache/policysearch``, beside the JAX cache), whatever the
    current directory."""
    from policysearch import compile_cache

    return os.environ.get("POLICYSEARCH_BTGM_CACHE") or os.path.join(compile_cache.ROOT, "btgm_models")


# =========================================================================================
# VAE
# =========================================================================================
@dataclasses.dataclass(frozen=True)
class VAE:
    """A trained VAE. ``decode(z [n, k]) -> x [n, d]`` is the mean decoder in data units
    (pixel intensities in [0, 1], or kW for curves: the standardisation is undone)."""

    params: dict
    latent_dim: int
    data_dim: int
    hidden: tuple
    likelihood: str          # "bernoulli" | "gaussian"
    shift: jax.Array         # data = shift + scale * model space
    scale: jax.Array

    @property
    def prior(self) -> StandardNormal:
        return StandardNormal(self.latent_dim)

    def _decoder(self):
        return MLP(tuple(self.hidden), self.data_dim, "swish")

    def _encoder(self):
        return MLP(tuple(self.hidden), 2 * self.latent_dim, "swish")

    def decode(self, z) -> jax.Array:
        out = self._decoder().apply(self.params["dec"], z)
        if self.likelihood == "bernoulli":
            out = jax.nn.sigmoid(out)
        return self.shift + self.scale * out

    def encode(self, x) -> tuple[jax.Array, jax.Array]:
        """Posterior mean and log-variance of z given data-unit x."""
        h = self._encoder().apply(self.params["enc"], (x - self.shift) / self.scale)
        return h[..., : self.latent_dim], h[..., self.latent_dim:]

    def sample(self, key, n: int) -> jax.Array:
        """Samples of the model p in data space (mean decoder of prior samples)."""
        return self.decode(self.prior.sample(key, n))


def _vae_loss(params, key, x, enc, dec, k, likelihood):
    h = enc.apply(params["enc"], x)
    mu, logvar = h[:, :k], jnp.clip(h[:, k:], -10.0, 5.0)
    z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape)
    out = dec.apply(params["dec"], z)
    if likelihood == "bernoulli":
        rec = jnp.sum(optax.sigmoid_binary_cross_entropy(out, x), axis=-1)
    else:
        log_s = params["log_sigma"]
        rec = jnp.sum(0.5 * ((x - out) * jnp.exp(-log_s)) ** 2 + log_s
                      + 0.5 * jnp.log(2 * jnp.pi), axis=-1)
    kl = 0.5 * jnp.sum(jnp.exp(logvar) + mu ** 2 - 1.0 - logvar, axis=-1)
    return jnp.mean(rec + kl)


def _fit(key, params, loss_fn, data: tuple, steps: int, batch: int, lr: float):
    """Adam on minibatches of ``data`` (arrays sharing axis 0), all steps in one lax.scan.
    Returns (params, loss curve)."""
    tx = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.05))
    n = data[0].shape[0]

    def step(carry, k):
        p, opt = carry
        k_idx, k_loss = jax.random.split(k)
        idx = jax.random.randint(k_idx, (batch,), 0, n)
        loss, g = jax.value_and_grad(loss_fn)(p, k_loss, *(a[idx] for a in data))
        upd, opt = tx.update(g, opt, p)
        return (optax.apply_updates(p, upd), opt), loss

    @jax.jit
    def run(key, params, data):
        (p, _), losses = jax.lax.scan(step, (params, tx.init(params)), jax.random.split(key, steps))
        return p, losses

    return run(key, params, data)


def train_vae(key, data: np.ndarray, *, latent_dim: int, hidden=(256, 256),
              likelihood: str = "bernoulli", steps: int = 4000, batch: int = 128,
              lr: float = 2e-3, shift=None, scale=None) -> tuple[VAE, np.ndarray]:
    """Trains a VAE on ``data [n, d]`` (data units). For "bernoulli" data must lie in [0, 1];
    for "gaussian" it is standardised with ``shift``/``scale`` (default: per-feature mean and
    the global standard deviation). Returns (vae, loss curve)."""
    data = jnp.asarray(data, jnp.float32)
    d = data.shape[1]
    if likelihood == "bernoulli":
        shift = jnp.zeros(d) if shift is None else jnp.asarray(shift, jnp.float32)
        scale = jnp.ones(d) if scale is None else jnp.asarray(scale, jnp.float32)
    else:
        shift = jnp.mean(data, 0) if shift is None else jnp.asarray(shift, jnp.float32)
        scale = (jnp.full(d, jnp.std(data - shift)) if scale is None
                 else jnp.asarray(scale, jnp.float32))
    enc, dec = MLP(tuple(hidden), 2 * latent_dim, "swish"), MLP(tuple(hidden), d, "swish")
    k_enc, k_dec, k_fit = jax.random.split(key, 3)
    params = {"enc": enc.init(k_enc, jnp.zeros((1, d))),
              "dec": dec.init(k_dec, jnp.zeros((1, latent_dim)))}
    if likelihood == "gaussian":
        params["log_sigma"] = jnp.zeros(())

    def loss_fn(p, k, x):
        return _vae_loss(p, k, x, enc, dec, latent_dim, likelihood)

    params, losses = _fit(k_fit, params, loss_fn, ((data - shift) / scale,), steps, batch, lr)
    vae = VAE(params, latent_dim, d, tuple(hidden), likelihood, shift, scale)
    return vae, np.asarray(losses)


# =========================================================================================
# Classifier
# =========================================================================================
@dataclasses.dataclass(frozen=True)
class Classifier:
    """An MLP classifier on data-unit inputs: ``log_probs(x [n, d]) -> [n, classes]``,
    ``logits(x)``. With 2 classes ``logits[:, 1] - logits[:, 0]`` is the discriminator's
    pre-activation output log D/(1-D)."""

    params: dict
    data_dim: int
    num_classes: int
    hidden: tuple

    def logits(self, x) -> jax.Array:
        return MLP(tuple(self.hidden), self.num_classes, "swish").apply(self.params, x)

    def log_probs(self, x) -> jax.Array:
        return jax.nn.log_softmax(self.logits(x), axis=-1)


def train_classifier(key, x: np.ndarray, y: np.ndarray, *, num_classes: int, hidden=(128,),
                     steps: int = 3000, batch: int = 128, lr: float = 2e-3,
                     weight_decay: float = 1e-4) -> tuple[Classifier, np.ndarray]:
    """Cross-entropy training of an MLP classifier (L2 weight decay). Returns (h, losses)."""
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y, jnp.int32)
    net = MLP(tuple(hidden), num_classes, "swish")
    k_init, k_fit = jax.random.split(key)
    params = net.init(k_init, x[:1])

    def loss_fn(p, k, xb, yb):
        del k
        ce = optax.softmax_cross_entropy_with_integer_labels(net.apply(p, xb), yb)
        l2 = sum(jnp.sum(w ** 2) for w in jax.tree.leaves(p))
        return jnp.mean(ce) + weight_decay * l2

    params, losses = _fit(k_fit, params, loss_fn, (x, y), steps, batch, lr)
    return Classifier(params, x.shape[1], num_classes, tuple(hidden)), np.asarray(losses)


# =========================================================================================
# cache
# =========================================================================================
def _settings_hash(settings: dict) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:12]


_KINDS = {"VAE": VAE, "Classifier": Classifier}


def _pack(obj) -> dict:
    fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    fields = jax.tree.map(lambda a: np.asarray(a) if isinstance(a, jax.Array) else a, fields)
    fields["hidden"] = np.asarray(obj.hidden, np.int64)
    return {"kind": type(obj).__name__, "fields": fields}


def _unpack(tree: dict):
    cls = _KINDS[tree["kind"]]
    fields = dict(tree["fields"])
    fields["hidden"] = tuple(int(h) for h in np.asarray(fields["hidden"]))
    for f in dataclasses.fields(cls):
        if f.type in ("int", int):
            fields[f.name] = int(fields[f.name])
        elif f.type in ("str", str):
            fields[f.name] = str(fields[f.name])
    return cls(**jax.tree.map(lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a,
                              fields))


def cached(name: str, settings: dict, build: Callable[[], object], cache_dir: str | None = None):
    """Returns ``build()`` (a ``VAE`` or ``Classifier``), loading it from
    ``<cache_dir>/<name>-<hash(settings)>.msgpack`` when present and saving it after a build
    otherwise. ``settings`` must hold everything that determines the model (data, seed, sizes)."""
    cache_dir = cache_dir or default_cache_dir()
    path = os.path.join(cache_dir, f"{name}-{_settings_hash(settings)}.msgpack")
    if os.path.exists(path):
        with open(path, "rb") as fh:
            return _unpack(flax.serialization.msgpack_restore(fh.read()))
    obj = build()
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(flax.serialization.msgpack_serialize(_pack(obj)))
    os.replace(tmp, path)
    return obj
