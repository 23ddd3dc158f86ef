"""Name → entry registries for advantage estimators and policy losses, with what each needs.

A new algorithm is a registered function, not a new branch in the trainer or the config checks::

    @register_advantage("my_estimator", needs_values=True, inputs=("terminated",), options={"lam": "lam"})
    def my_estimator(rewards, traj_id, group_id=None, values=None, gamma=1.0, *, terminated, lam): ...

Every estimator is called as ``fn(rewards, traj_id, group_id=, values=, gamma=, **inputs, **options)``:
``inputs`` names further per-turn batch fields it reads (``terminated``, ``truncated``, ``next_values``),
``options`` maps its keyword arguments to `AlgoCfg` fields. A loss is called as
``fn(logprobs, old_logprobs, advantages, mask, num_tokens=, **options)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable)

BATCH_INPUTS = ("terminated", "truncated", "next_values")


@dataclass(frozen=True)
class Entry:
    name: str
    fn: Callable
    needs_values: bool = False  # reads critic values: the run must train the critic
    inputs: tuple[str, ...] = ()  # extra per-turn batch fields, from BATCH_INPUTS
    options: dict[str, str] = field(default_factory=dict)  # keyword argument -> AlgoCfg field

    def kwargs(self, algo: Any) -> dict[str, Any]:
        """The options' values from the algo config section."""
        return {kw: getattr(algo, key) for kw, key in self.options.items()}


_ADVANTAGES: dict[str, Entry] = {}
_LOSSES: dict[str, Entry] = {}


def _register(table: dict[str, Entry], kind: str, name: str, **meta: Any) -> Callable[[F], F]:
    bad = [i for i in meta.get("inputs", ()) if i not in BATCH_INPUTS]
    if bad:
        raise ValueError(f"{kind} {name!r} asks for unknown batch inputs {bad}; known: {', '.join(BATCH_INPUTS)}")

    def deco(fn: F) -> F:
        if name in table and table[name].fn is not fn:
            raise ValueError(f"{kind} {name!r} is already registered (by {table[name].fn.__qualname__})")
        table[name] = Entry(name, fn, **meta)
        return fn

    return deco


def _get(table: dict[str, Entry], kind: str, name: str, key: str | None) -> Entry:
    try:
        return table[name]
    except KeyError:
        what = f"invalid {key}={name!r}" if key else f"unknown {kind} {name!r}"
        raise ValueError(f"{what}; available: {', '.join(sorted(table))}") from None


def register_advantage(name: str, *, needs_values: bool = False, inputs: tuple[str, ...] = (),
                       options: dict[str, str] | None = None) -> Callable[[F], F]:
    """Decorator: register an advantage estimator under ``name``, with what it needs."""
    return _register(_ADVANTAGES, "advantage estimator", name, needs_values=needs_values, inputs=tuple(inputs),
                     options=dict(options or {}))


def register_loss(name: str, *, options: dict[str, str] | None = None) -> Callable[[F], F]:
    """Decorator: register a policy loss under ``name``; ``options`` maps its keywords to AlgoCfg fields."""
    return _register(_LOSSES, "policy loss", name, options=dict(options or {}))


def get_advantage_entry(name: str, key: str | None = None) -> Entry:
    """The estimator's entry; ValueError listing the names if unknown (naming the config `key` if given)."""
    return _get(_ADVANTAGES, "advantage estimator", name, key)


def get_loss_entry(name: str, key: str | None = None) -> Entry:
    return _get(_LOSSES, "policy loss", name, key)


def get_advantage(name: str) -> Callable:
    """The advantage estimator function registered as ``name``."""
    return get_advantage_entry(name).fn


def get_loss(name: str) -> Callable:
    """The policy loss function registered as ``name``."""
    return get_loss_entry(name).fn


def available_advantages() -> list[str]:
    return sorted(_ADVANTAGES)


def available_losses() -> list[str]:
    return sorted(_LOSSES)
