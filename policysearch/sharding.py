"""Spread a run over all local devices with jax.sharding; the same program on one device.

Seeds are independent, so the seed axis of the carry is sharded across a 1-D device mesh when
the number of seeds divides evenly. Otherwise each generation's population (particles x
offspring policy evaluations, the expensive part) is sharded across devices instead, and the
strategy update runs replicated. On one device nothing changes.

Multi-GPU: `python -m policysearch.train env=hopper seeds=8` on a machine with 8 GPUs puts one
seed per GPU. Multi-host: start every host with `jax.distributed.initialize()` (set
POLICYSEARCH_DISTRIBUTED=1, plus JAX's coordinator environment variables) so that
`jax.devices()` lists all hosts' devices; the same mesh then spans them.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

AXIS = "devices"


def maybe_initialize_distributed() -> None:
    """Multi-host runs: jax.distributed.initialize() when POLICYSEARCH_DISTRIBUTED=1."""
    if os.environ.get("POLICYSEARCH_DISTRIBUTED") == "1":
        jax.distributed.initialize()


def plan(num_seeds: int, population: int) -> tuple[str, Mesh | None]:
    """('single' | 'seeds' | 'population' | 'replicated', mesh)."""
    devices = jax.devices()
    n = len(devices)
    if n == 1:
        return "single", None
    mesh = Mesh(np.array(devices), (AXIS,))
    if num_seeds % n == 0:
        return "seeds", mesh
    if population % n == 0:
        return "population", mesh
    return "replicated", mesh


def shard_seeds(tree, mesh: Mesh):
    """Place a pytree with a leading seed axis so that seeds are split across devices."""
    return jax.device_put(tree, NamedSharding(mesh, P(AXIS)))


def population_constraint(mesh: Mesh):
    """Function that constrains a [population, dim] array to be split across devices."""
    sharding = NamedSharding(mesh, P(AXIS, None))
    return lambda x: jax.lax.with_sharding_constraint(x, sharding)
