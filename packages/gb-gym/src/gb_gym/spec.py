"""What the env needs to know about one game: a `GameSpec`.

A new game is a new spec, not a change to the env. A spec reads the game's RAM
into a `GameState` (progress, lives, death, level complete), knows how to bring
the emulator to the first playable frame of a level, and, where the RAM allows,
describes the screen as a `Scene` for annotators.

Specs take a `gb` object with `gb.memory[addr]` (a PyBoy, or
`gb_gym.testing.FakeGameBoy` in tests) so they can be tested on synthetic RAM.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

from .actions import DEFAULT_MAX_BUTTONS


class Memory(Protocol):
    def __getitem__(self, addr: int) -> int: ...


class GameBoyLike(Protocol):
    memory: Any


@dataclass(frozen=True)
class GameState:
    """The RAM-derived facts the env's reward and termination use."""

    x_progress: int
    level: str
    lives: int
    dying: bool
    game_over: bool
    level_complete: bool


@dataclass(frozen=True)
class Enemy:
    dx: int  # px, enemy minus player; > 0 is ahead (to the right)
    dy: int  # px, enemy minus player; > 0 is below
    kind: str = "enemy"


@dataclass(frozen=True)
class Scene:
    """What an annotator can say about one frame from RAM alone.

    `terrain` is the ground height in tiles of the columns from the player's one
    onward (0 = pit); `None` where the game's RAM map does not give it.
    """

    game: str
    level: str
    lives: int
    x_progress: int
    player_y: int
    on_ground: bool
    enemies: tuple[Enemy, ...] = ()
    terrain: tuple[int, ...] | None = None
    goal_dx: int | None = None  # px from player to the level's goal, when known
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RomInfo:
    """How to find and check a game's ROM."""

    title: str  # cartridge header title (0x134..0x143), as PyBoy reads it
    sha256: tuple[str, ...] = ()  # known good dumps; empty: any file with the title (our cartridge, homebrew)
    filename: str = ""  # canonical file name in the ROM folder (and in the package's roms/ when bundled)
    bundled: bool = False  # ships inside a Python package, as <package>/roms/<filename>
    package: str = "gb_gym"  # the package a bundled ROM ships in (a game's own package, out of tree)


class GameSpec(ABC):
    """Base class for a game. Subclasses set the class attributes and the abstract methods."""

    name: str  # short id: "hopland"
    env_id: str  # "GB/Hopland-v0"
    display_name: str  # "Hopland"
    rom: RomInfo
    levels: tuple[str, ...]  # the game's own level names
    default_level: str
    max_episode_steps: int  # default TimeLimit, in turns
    max_buttons: int = DEFAULT_MAX_BUTTONS  # most buttons one text answer may press (actions="buttons", VLM answers)

    @abstractmethod
    def start(self, session: Session, level: str, seed: int) -> Any:
        """Bring an emulator to the first playable frame of `level`, with the game's randomness
        drawn from `seed` (0..2**32-1); return the PyBoy to play on.

        `session` hands out PyBoy instances and keeps snapshots, so the expensive boot runs once.
        """

    @abstractmethod
    def read(self, gb: GameBoyLike) -> GameState:
        """Read the game's state from RAM (call after a full frame)."""

    def scene(self, gb: GameBoyLike) -> Scene | None:
        """Describe the screen from RAM for annotators; None where the RAM map is too thin."""
        return None

    def scripted_decision(self, gb: GameBoyLike) -> tuple[tuple[str, ...], str] | None:
        """A RAM-reading scripted player's next buttons (at most `max_buttons`) and its reason in words,
        or None if the game has no scripted player."""
        return None

    @property
    def has_scene(self) -> bool:
        """Whether this game describes the screen from RAM (overrides `scene`)."""
        return type(self).scene is not GameSpec.scene

    @property
    def has_scripted_player(self) -> bool:
        """Whether this game has a RAM-reading scripted player (overrides `scripted_decision`)."""
        return type(self).scripted_decision is not GameSpec.scripted_decision

    def level_complete(self, prev: GameState, now: GameState) -> bool:
        """Whether the turn from `prev` to `now` completed the level; by default the game's own flag.
        Games without one override this (Super Mario Land: its level number moves on)."""
        return now.level_complete

    def scripted_buttons(self, gb: GameBoyLike) -> tuple[str, ...] | None:
        decision = self.scripted_decision(gb)
        return None if decision is None else decision[0]

    def check_level(self, level: Any) -> str:
        level = str(level)
        if level not in self.levels:
            raise ValueError(
                f"{self.display_name} has no level {level!r}; levels are: {', '.join(self.levels)}"
            )
        return level


class Session(Protocol):
    """What `GameSpec.start` may ask of the env (see `gb_gym.env._Session`)."""

    def pyboy(self, key: str, setup: Any) -> Any: ...

    snapshots: dict[str, bytes]

    def save(self, pyboy: Any) -> bytes: ...

    def load(self, pyboy: Any, state: bytes) -> None: ...
