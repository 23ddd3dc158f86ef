"""RL algorithm core: advantage estimators and losses, registered by name."""

from . import advantages, losses  # noqa: F401  (importing registers them)
from .advantages import AdvantageOutput, discounted_returns, drop_last_turns
from .losses import ppo_clip, value_loss
from .registry import (
    available_advantages,
    available_losses,
    get_advantage,
    get_loss,
    register_advantage,
    register_loss,
)

__all__ = [
    "AdvantageOutput",
    "available_advantages",
    "available_losses",
    "discounted_returns",
    "drop_last_turns",
    "get_advantage",
    "get_loss",
    "ppo_clip",
    "register_advantage",
    "register_loss",
    "value_loss",
]
