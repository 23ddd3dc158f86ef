"""Test doubles: a fake Game Boy with synthetic RAM, so game specs (and the env, with a spec whose
`start` returns one) can be tested without ROMs; and one turn of the env's protocol on a bare PyBoy,
for tests and benchmarks that must run without the env."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .actions import TURN


@dataclass
class _FakeScreen:
    scx_by_line: list[int] = field(default_factory=lambda: [0] * 144)
    ndarray: np.ndarray = field(default_factory=lambda: np.zeros((144, 160, 4), np.uint8))

    @property
    def tilemap_position_list(self) -> list[tuple[int, int]]:
        return [(x, 0) for x in self.scx_by_line]


@dataclass
class _FakeGameWrapper:
    area: np.ndarray = field(default_factory=lambda: np.zeros((16, 20), np.uint32))

    def game_area(self) -> np.ndarray:
        return self.area.copy()


class FakeMemory:
    def __init__(self) -> None:
        self.data = bytearray(0x10000)

    def __getitem__(self, addr: int) -> int:
        return self.data[addr]

    def __setitem__(self, addr: int, value: int) -> None:
        self.data[addr] = value & 0xFF


@dataclass
class FakeGameBoy:
    """`memory[addr]`, `screen` (`tilemap_position_list`, a blank `ndarray`), `game_wrapper.game_area()`
    (set `game_wrapper.area`), and ticks and buttons that only count: as much of PyBoy as the specs read
    and the env's `step` drives."""

    memory: FakeMemory = field(default_factory=FakeMemory)
    screen: _FakeScreen = field(default_factory=_FakeScreen)
    game_wrapper: _FakeGameWrapper = field(default_factory=_FakeGameWrapper)
    frames: int = 0
    held: set[str] = field(default_factory=set)

    def tick(self, count: int = 1, render: bool = True) -> bool:
        self.frames += count
        return True

    def button_press(self, name: str) -> None:
        self.held.add(name)

    def button_release(self, name: str) -> None:
        self.held.discard(name)

    def poke(self, values: dict[int, int]) -> FakeGameBoy:
        for addr, v in values.items():
            self.memory[addr] = v
        return self


def raw_turn(pb, buttons, render: bool = True) -> None:
    """One turn of GameBoyEnv's default protocol (`gb_gym.actions.TURN`) on a bare PyBoy: the buttons
    held for `TURN.frames_for(buttons)` frames, released for the last `TURN.release`, only the last
    frame rendered."""
    n = TURN.frames_for(buttons)
    for b in buttons:
        pb.button_press(b)
    pb.tick(n - TURN.release, False)
    for b in buttons:
        pb.button_release(b)
    pb.tick(TURN.release, render)
