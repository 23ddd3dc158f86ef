"""The button grammar and the turn protocol: the one home of both.

Action sets: `original` is noop plus every set of one or two of the six buttons
(22 actions), `engineered` is the paper's hand-picked 8, and `buttons` takes
button names directly, for agents that answer in text, at most the game's
`GameSpec.max_buttons` at once (DEFAULT_MAX_BUTTONS unless the game says
otherwise). `TURN` is how long one step holds and releases its buttons.
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
DEFAULT_MAX_BUTTONS = 2  # a game's cap on buttons per text answer, unless its GameSpec sets max_buttons
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

def button_sets(max_buttons: int) -> tuple[Buttons, ...]:
    """Noop and every set of 1..max_buttons buttons, in canonical order: every distinct press an answer can make."""
    return ((),) + tuple(combo for k in range(1, max_buttons + 1) for combo in combinations(BUTTONS, k))


ORIGINAL: tuple[Buttons, ...] = button_sets(2)  # the paper's 22 actions
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


def parse_buttons(action: Any, max_buttons: int = DEFAULT_MAX_BUTTONS) -> Buttons:
    """Validate a text action; the rule is the VLM answer parser's (vlm_rl.parsing):

    a list of at most `max_buttons` (the game's `GameSpec.max_buttons`) entries (every entry counts, repeats and `noop` too), each a name
    from ANSWER_NAMES (case and surrounding spaces ignored). The buttons pressed are the distinct names
    other than `noop`, in canonical (BUTTONS) order; `[]` and `["noop"]` press none. A bare string is
    taken as a one-entry list.
    """
    if isinstance(action, str):
        action = [action]
    if not isinstance(action, Iterable):
        raise ValueError(
            f"invalid buttons action {action!r}: expected a list of up to {max_buttons} names "
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
    if len(names) > max_buttons:
        raise ValueError(
            f"at most {max_buttons} names may be given (repeats and noop count), got {len(names)}: {entries!r}"
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
    """Sets of up to `max_buttons` button names, as a tuple of strings (the empty tuple is noop).

    `contains(x)` is True for exactly the lists `parse_buttons(x, max_buttons)` accepts (not for a bare
    string); `sample()` returns canonical tuples."""

    def __init__(self, max_buttons: int = DEFAULT_MAX_BUTTONS, seed: int | np.random.Generator | None = None):
        if not isinstance(max_buttons, int) or not 1 <= max_buttons <= len(BUTTONS):
            raise ValueError(f"invalid max_buttons={max_buttons!r}: expected an int from 1 to {len(BUTTONS)}")
        super().__init__(shape=None, dtype=None, seed=seed)
        self.max_buttons = max_buttons
        self._sets = button_sets(max_buttons)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> Buttons:
        if mask is not None or probability is not None:
            raise NotImplementedError("ButtonsSpace.sample does not support masks")
        return self._sets[int(self.np_random.integers(len(self._sets)))]

    def contains(self, x: Any) -> bool:
        if isinstance(x, str):
            return False
        try:
            parse_buttons(x, self.max_buttons)
        except ValueError:
            return False
        return True

    def __repr__(self) -> str:
        return f"ButtonsSpace(max_buttons={self.max_buttons})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ButtonsSpace) and other.max_buttons == self.max_buttons

    def to_jsonable(self, sample_n: Sequence[Buttons]) -> list[list[str]]:
        return [list(s) for s in sample_n]

    def from_jsonable(self, sample_n: Sequence[Sequence[str]]) -> list[Buttons]:
        return [tuple(s) for s in sample_n]


def make_action_space(kind: str, max_buttons: int = DEFAULT_MAX_BUTTONS) -> tuple[spaces.Space, tuple[Buttons, ...] | None]:
    """The Gymnasium space for an action kind and, for discrete kinds, the buttons of each action
    (`max_buttons`, the game's cap, bounds the text kind `buttons` only)."""
    if kind in ACTION_SETS:
        table = ACTION_SETS[kind]
        return spaces.Discrete(len(table)), table
    if kind == "buttons":
        return ButtonsSpace(max_buttons), None
    raise ValueError(f"invalid actions={kind!r}: expected one of {', '.join(ACTION_KINDS)}")
