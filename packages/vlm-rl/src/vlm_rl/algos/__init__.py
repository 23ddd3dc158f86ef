"""RL algorithm core: advantage estimators and losses, registered by name with what each needs."""

from . import advantages, gae, losses  # noqa: F401  (importing registers them)
from .advantages import AdvantageOutput, discounted_returns, drop_last_turns
from .losses import ppo_clip, value_loss
from .registry import (
    Entry,
    available_advantages,
    available_losses,
    get_advantage,
    get_advantage_entry,
    get_loss,
    get_loss_entry,
    register_advantage,
    register_loss,
)

__all__ = [
    "AdvantageOutput",
    "Entry",
    "available_advantages",
    "available_losses",
    "discounted_returns",
    "drop_last_turns",
    "get_advantage",
    "get_advantage_entry",
    "get_loss",
    "get_loss_entry",
    "ppo_clip",
    "register_advantage",
    "register_loss",
    "value_loss",
]
