"""Flax MLP policies as flat parameter vectors, plus running observation normalisation.

Strategies search over flat float32 vectors; this module is the only place that knows how a
vector maps to network weights (one `ravel_pytree`, no per-leaf loops) and how network outputs
map to actions (tanh squash to the action bounds, or argmax for discrete actions).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Sequence

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

ACTIVATIONS: dict[str, Callable] = {
    "tanh": jnp.tanh,
    "relu": nn.relu,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "swish": nn.swish,
    "sigmoid": nn.sigmoid,
    "leaky_relu": nn.leaky_relu,
}


class MLP(nn.Module):
    """Fully connected network: hidden layers with `activation`, linear output."""

    hidden_sizes: Sequence[int]
    output_size: int
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        for width in self.hidden_sizes:
            x = act(nn.Dense(width)(x))
        return nn.Dense(self.output_size)(x)


@flax.struct.dataclass
class ObsNormState:
    """Running mean/variance of observations (Chan et al. parallel merge)."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array

    @classmethod
    def create(cls, observation_size: int) -> "ObsNormState":
        return cls(
            mean=jnp.zeros(observation_size, jnp.float32),
            var=jnp.ones(observation_size, jnp.float32),
            count=jnp.zeros((), jnp.float32),
        )

    def update(self, batch_mean, batch_var, batch_count) -> "ObsNormState":
        """Merge the statistics of a batch of observations into the running statistics."""
        total = self.count + batch_count
        safe_total = jnp.maximum(total, 1.0)
        delta = batch_mean - self.mean
        mean = self.mean + delta * batch_count / safe_total
        m2 = self.var * self.count + batch_var * batch_count
        m2 = m2 + delta**2 * self.count * batch_count / safe_total
        var = jnp.where(total > 0, m2 / safe_total, self.var)
        return ObsNormState(mean=mean, var=var, count=total)

    def normalize(self, obs):
        """Standardise, clipped to [-5, 5] as ES baselines do; identity before any update."""
        std = jnp.sqrt(jnp.maximum(self.var, 1e-8))
        z = jnp.clip((obs - self.mean) / std, -5.0, 5.0)
        return jnp.where(self.count > 0, z, obs)


ACTIVATION_NAMES = tuple(ACTIVATIONS)


@dataclasses.dataclass(frozen=True)
class MLPPolicy:
    """An MLP policy for one environment's observation and action spaces.

    Continuous actions: outputs squashed by tanh into [action_low, action_high].
    Discrete actions: argmax over `action_size` logits, returned as an int32 scalar.
    """

    observation_size: int
    action_size: int
    discrete: bool
    hidden_sizes: tuple[int, ...] = (16,)
    activation: str = "tanh"
    action_low: tuple[float, ...] | None = None
    action_high: tuple[float, ...] | None = None
    normalize_observations: bool = False

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; allowed: {', '.join(ACTIVATION_NAMES)}"
            )
        if any(int(h) <= 0 for h in self.hidden_sizes):
            raise ValueError(f"hidden sizes must be positive, got {list(self.hidden_sizes)}")

    @classmethod
    def for_env(cls, env, hidden_sizes=(16,), activation="tanh", normalize_observations=False):
        low = high = None
        if not env.discrete:
            low = tuple(float(v) for v in np.asarray(env.action_low).reshape(-1))
            high = tuple(float(v) for v in np.asarray(env.action_high).reshape(-1))
        return cls(
            observation_size=int(env.observation_size),
            action_size=int(env.action_size),
            discrete=bool(env.discrete),
            hidden_sizes=tuple(int(h) for h in hidden_sizes),
            activation=str(activation),
            action_low=low,
            action_high=high,
            normalize_observations=bool(normalize_observations),
        )

    # -- structure -----------------------------------------------------------------------
    @property
    def module(self) -> MLP:
        return MLP(self.hidden_sizes, self.action_size, self.activation)

    def init_params(self, key):
        return self.module.init(key, jnp.zeros((self.observation_size,), jnp.float32))

    @functools.cached_property
    def _unravel(self):
        with jax.ensure_compile_time_eval():  # shapes only; never staged into a traced program
            shapes = jax.eval_shape(self.init_params, jax.random.key(0))
            _, unravel = ravel_pytree(jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes))
        return unravel

    @property
    def num_params(self) -> int:
        sizes = [self.observation_size, *self.hidden_sizes, self.action_size]
        return int(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))

    def flatten(self, params) -> jax.Array:
        return flatten(params)

    def unflatten(self, flat):
        return self._unravel(flat)

    def init_flat(self, key) -> jax.Array:
        """A flat parameter vector drawn from Flax's default initialisers."""
        return flatten(self.init_params(key))

    # -- acting --------------------------------------------------------------------------
    def act(self, flat, obs, obs_stats: ObsNormState | None = None):
        """Action for one observation (vmap for batches); `flat` is a flat parameter vector."""
        return self.act_params(self.unflatten(flat), obs, obs_stats)

    def act_params(self, params, obs, obs_stats: ObsNormState | None = None):
        """Like `act` with an already unflattened parameter pytree (hoist out of loops)."""
        if self.normalize_observations and obs_stats is not None:
            obs = obs_stats.normalize(obs)
        out = self.module.apply(params, obs)
        if self.discrete:
            return jnp.argmax(out).astype(jnp.int32)
        low = jnp.asarray(self.action_low, jnp.float32)
        high = jnp.asarray(self.action_high, jnp.float32)
        return low + (jnp.tanh(out) + 1.0) * 0.5 * (high - low)

    def probe_outputs(self, flat, obs, obs_stats: ObsNormState | None = None):
        """Differentiable outputs at observations ``obs[P, o]`` -> ``[P, action_size]``: the
        squashed actions (continuous) or the action probabilities (discrete: softmax of the
        logits, whose argmax is the action). The function-space kernel's embedding."""
        params = self.unflatten(flat)
        if not self.discrete:
            return jax.vmap(lambda o: self.act_params(params, o, obs_stats))(obs)
        if self.normalize_observations and obs_stats is not None:
            obs = jax.vmap(obs_stats.normalize)(obs)
        return jax.nn.softmax(self.module.apply(params, obs), axis=-1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MLPPolicy":
        d = dict(d)
        for k in ("hidden_sizes", "action_low", "action_high"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)


def flatten(params) -> jax.Array:
    """Parameter pytree -> flat float32 vector (one ravel)."""
    return ravel_pytree(params)[0]


def unflatten(flat, like):
    """Flat vector -> pytree with the structure of `like`."""
    return ravel_pytree(like)[1](flat)


def num_params(params) -> int:
    return int(flatten(params).size)
