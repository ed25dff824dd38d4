"""Pure-JAX environments: ports of Gymnasium classic control, QDax's point maze, plus
(optionally) Brax and QDax's QD-RL tasks on Brax.

    env = envs.make("mountaincar")                # short name
    env = envs.make("MountainCarContinuous-v0")   # or the Gymnasium id

See docs/architecture.md ("envs contract") and envs/base.py.

Brax hook: names in ``BRAX_NAMES`` are delegated to a factory ``make(name, **kwargs) -> Env``
defined in ``envs/brax_adapter.py`` (imported lazily, only when such a name is requested).
A factory can also be installed directly with ``set_brax_factory(fn)``; more (non-Brax) envs
can be added with ``register(name, factory, gym_id=None)``.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from .base import Env
from .classic import Acrobot, CartPole, MountainCar, MountainCarContinuous, Pendulum
from .pointmaze import PointMaze

__all__ = [
    "BRAX_NAMES",
    "ENV_NAMES",
    "GYM_IDS",
    "Env",
    "make",
    "register",
    "set_brax_factory",
]

# short name -> factory(**kwargs) -> Env
_FACTORIES: dict[str, Callable[..., Env]] = {
    "mountaincar": MountainCarContinuous,
    "mountaincar_discrete": MountainCar,
    "pendulum": Pendulum,
    "cartpole": CartPole,
    "acrobot": Acrobot,
}

#: short names of the built-in envs: the classic-control ports (those in GYM_IDS), then the
#: registered ones (pointmaze)
ENV_NAMES: tuple[str, ...] = tuple(_FACTORIES)

#: short name -> Gymnasium id
GYM_IDS: dict[str, str] = {name: factory.gym_id for name, factory in _FACTORIES.items()}

#: names handled by the Brax adapter (envs/brax_adapter.py, optional dependency)
BRAX_NAMES: tuple[str, ...] = (
    "halfcheetah",
    "hopper",
    "walker2d",
    "ant",
    "humanoid",
    "reacher",
    "inverted_pendulum",
    "inverted_double_pendulum",
    "pusher",
    "swimmer",
    # QDax's QD-RL tasks (Brax envs with QDax's wrappers; needs qdax, docs/qd.md "Tasks")
    "hopper_uni",
    "walker2d_uni",
    "halfcheetah_uni",
    "ant_omni",
)

# factory(name, **kwargs) -> Env for BRAX_NAMES; None until set or lazily imported
_brax_factory: Callable[..., Env] | None = None


def register(name: str, factory: Callable[..., Env], gym_id: str | None = None) -> None:
    """Make `factory(**kwargs)` available as `make(name)` (and `make(gym_id)` if given)."""
    global ENV_NAMES
    _FACTORIES[name] = factory
    if name not in ENV_NAMES:
        ENV_NAMES = ENV_NAMES + (name,)
    if gym_id is not None:
        GYM_IDS[name] = gym_id


register("pointmaze", PointMaze)  # QDax's deceptive maze (envs/pointmaze.py)


def set_brax_factory(factory: Callable[..., Env] | None) -> None:
    """Install the factory `factory(name, **kwargs)` used for `BRAX_NAMES`."""
    global _brax_factory
    _brax_factory = factory


def _get_brax_factory() -> Callable[..., Env]:
    global _brax_factory
    if _brax_factory is not None:
        return _brax_factory
    try:
        module = importlib.import_module(".brax_adapter", __name__)
    except ModuleNotFoundError as e:
        if e.name in (f"{__name__}.brax_adapter",):
            raise ImportError(
                "Brax envs need envs/brax_adapter.py, which is not available in this install"
            ) from e
        raise ImportError(
            f"Brax envs need brax, which is not installed ({e.name} missing): "
            "pip install -e .[brax]"
        ) from e
    except ImportError as e:
        raise ImportError(
            f"Brax envs need brax, which failed to import ({e}): pip install -e .[brax]"
        ) from e
    _brax_factory = module.make
    return _brax_factory


def _valid_names() -> str:
    names = list(ENV_NAMES) + [GYM_IDS[n] for n in ENV_NAMES if n in GYM_IDS]
    names += [f"{n} (brax)" for n in BRAX_NAMES]
    return ", ".join(names)


def make(name: str, **kwargs: Any) -> Env:
    """Env by short name (see `ENV_NAMES`), Gymnasium id (see `GYM_IDS`) or Brax name.

    Keyword arguments go to the env's constructor, e.g. ``max_episode_steps=...``, Pendulum's
    ``g``, MountainCar's ``goal_velocity``, CartPole's ``sutton_barto_reward``.
    """
    if not isinstance(name, str):
        raise ValueError(f"unknown env {name!r}; valid names: {_valid_names()}")
    if name in _FACTORIES:
        return _FACTORIES[name](**kwargs)
    by_gym_id = {gym_id: short for short, gym_id in GYM_IDS.items()}
    if name in by_gym_id:
        return _FACTORIES[by_gym_id[name]](**kwargs)
    if name in BRAX_NAMES:
        return _get_brax_factory()(name, **kwargs)
    raise ValueError(f"unknown env '{name}'; valid names: {_valid_names()}")
