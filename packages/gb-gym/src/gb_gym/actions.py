"""The button grammar and the turn protocol: the one home of both.

Action sets: `original` is noop plus every set of one or two of the six buttons
(22 actions), `engineered` is the paper's hand-picked 8, and `buttons` takes
button names directly, for agents that answer in text. `TURN` is how long one
step holds and releases its buttons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from gymnasium import spaces

BUTTONS: tuple[str, ...] = ("a", "b", "up", "down", "left", "right")
NOOP = "noop"
MAX_BUTTONS = 2
ANSWER_NAMES: tuple[str, ...] = BUTTONS + (NOOP,)  # what a text answer may name, in canonical order

Buttons = tuple[str, ...]


@dataclass(frozen=True)
class TurnProtocol:
    """One env step: hold the buttons for `frames` (`jump_frames` with `a`: a jump needs the longer
    hold to reach full height), the last `release` of them released so the next press is a new one."""

    frames: int = 5
    jump_frames: int = 15
    release: int = 2

    def frames_for(self, buttons: Iterable[str]) -> int:
        return self.jump_frames if "a" in buttons else self.frames


TURN = TurnProtocol()

ORIGINAL: tuple[Buttons, ...] = ((),) + tuple(
    combo for k in (1, 2) for combo in combinations(BUTTONS, k)
)
ENGINEERED: tuple[Buttons, ...] = (
    ("right",),
    ("right", "a"),
    ("right", "a", "b"),
    ("left",),
    ("left", "a"),
    ("right", "b"),
    ("left", "b"),
    ("a",),
)
ACTION_SETS: dict[str, tuple[Buttons, ...]] = {"original": ORIGINAL, "engineered": ENGINEERED}
ACTION_KINDS = (*ACTION_SETS, "buttons")


def action_label(buttons: Buttons) -> str:
    return "+".join(b.upper() for b in buttons) or "NOOP"


def parse_buttons(action: Any) -> Buttons:
    """Validate a text action; the rule is the VLM answer parser's (vlm_rl.parsing):

    a list of at most MAX_BUTTONS entries (every entry counts, repeats and `noop` too), each a name
    from ANSWER_NAMES (case and surrounding spaces ignored). The buttons pressed are the distinct names
    other than `noop`, in canonical (BUTTONS) order; `[]` and `["noop"]` press none. A bare string is
    taken as a one-entry list.
    """
    if isinstance(action, str):
        action = [action]
    if not isinstance(action, Iterable):
        raise ValueError(
            f"invalid buttons action {action!r}: expected a list of up to {MAX_BUTTONS} names "
            f"from {', '.join(ANSWER_NAMES)}"
        )
    entries = list(action)
    if not all(isinstance(e, str) for e in entries):
        raise ValueError(
            f"invalid buttons action {entries!r}: every entry must be a button name (a str) from "
            f"{', '.join(ANSWER_NAMES)}"
        )
    names = [e.strip().lower() for e in entries]
    unknown = [n for n in names if n not in ANSWER_NAMES]
    if unknown:
        raise ValueError(
            f"invalid button name(s) {unknown!r} in {entries!r}: allowed are {', '.join(ANSWER_NAMES)}"
        )
    if len(names) > MAX_BUTTONS:
        raise ValueError(
            f"at most {MAX_BUTTONS} names may be given (repeats and noop count), got {len(names)}: {entries!r}"
        )
    return tuple(b for b in BUTTONS if b in names)


def discrete_index(action: Any, n: int) -> int:
    """An action of a `Discrete(n)` space as an int: a Python or NumPy integer (or a 0-d integer array,
    as SB3 passes), in [0, n). Anything else raises, rather than being truncated or indexed from the end."""
    value = action[()] if isinstance(action, np.ndarray) and action.shape == () else action
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
        raise ValueError(
            f"invalid action {action!r} ({type(action).__name__}): expected an integer in [0, {n - 1}]"
        )
    return int(value)


class ButtonsSpace(spaces.Space[Buttons]):
    """Sets of up to two button names, as a tuple of strings (the empty tuple is noop).

    `contains(x)` is True for exactly the lists `parse_buttons` accepts (not for a bare string);
    `sample()` returns canonical tuples."""

    def __init__(self, seed: int | np.random.Generator | None = None):
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> Buttons:
        if mask is not None or probability is not None:
            raise NotImplementedError("ButtonsSpace.sample does not support masks")
        return ORIGINAL[int(self.np_random.integers(len(ORIGINAL)))]

    def contains(self, x: Any) -> bool:
        if isinstance(x, str):
            return False
        try:
            parse_buttons(x)
        except ValueError:
            return False
        return True

    def __repr__(self) -> str:
        return "ButtonsSpace(max_buttons=2)"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ButtonsSpace)

    def to_jsonable(self, sample_n: Sequence[Buttons]) -> list[list[str]]:
        return [list(s) for s in sample_n]

    def from_jsonable(self, sample_n: Sequence[Sequence[str]]) -> list[Buttons]:
        return [tuple(s) for s in sample_n]


def make_action_space(kind: str) -> tuple[spaces.Space, tuple[Buttons, ...] | None]:
    """The Gymnasium space for an action kind and, for discrete kinds, the buttons of each action."""
    if kind in ACTION_SETS:
        table = ACTION_SETS[kind]
        return spaces.Discrete(len(table)), table
    if kind == "buttons":
        return ButtonsSpace(), None
    raise ValueError(f"invalid actions={kind!r}: expected one of {', '.join(ACTION_KINDS)}")
