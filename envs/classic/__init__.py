"""Pure-JAX ports of Gymnasium 1.4 classic-control environments (one file per env)."""

from .acrobot import Acrobot
from .cartpole import CartPole
from .continuous_mountain_car import MountainCarContinuous
from .mountain_car import MountainCar
from .pendulum import Pendulum

__all__ = ["Acrobot", "CartPole", "MountainCar", "MountainCarContinuous", "Pendulum"]
