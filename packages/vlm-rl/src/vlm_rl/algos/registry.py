"""Name → function registries for advantage estimators and policy losses.

A new algorithm is a registered function, not a new branch in the trainer::

    @register_advantage("my_estimator")
    def my_estimator(rewards, traj_id, group_id=None, values=None, gamma=1.0): ...

    get_advantage("my_estimator")(rewards, traj_id, ...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

_ADVANTAGES: dict[str, Callable] = {}
_LOSSES: dict[str, Callable] = {}


def _register(table: dict[str, Callable], kind: str, name: str) -> Callable[[F], F]:
    def deco(fn: F) -> F:
        if name in table and table[name] is not fn:
            raise ValueError(f"{kind} {name!r} is already registered (by {table[name].__qualname__})")
        table[name] = fn
        return fn

    return deco


def _get(table: dict[str, Callable], kind: str, name: str) -> Callable:
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r}; available: {', '.join(sorted(table))}") from None


def register_advantage(name: str) -> Callable[[F], F]:
    """Decorator: register an advantage estimator under ``name``."""
    return _register(_ADVANTAGES, "advantage estimator", name)


def register_loss(name: str) -> Callable[[F], F]:
    """Decorator: register a policy loss under ``name``."""
    return _register(_LOSSES, "policy loss", name)


def get_advantage(name: str) -> Callable:
    """The advantage estimator registered as ``name``; ValueError listing the names if unknown."""
    return _get(_ADVANTAGES, "advantage estimator", name)


def get_loss(name: str) -> Callable:
    """The policy loss registered as ``name``; ValueError listing the names if unknown."""
    return _get(_LOSSES, "policy loss", name)


def available_advantages() -> list[str]:
    return sorted(_ADVANTAGES)


def available_losses() -> list[str]:
    return sorted(_LOSSES)
