"""Test doubles: a fake Game Boy with synthetic RAM, so game specs can be tested without ROMs; and one
turn of the env's protocol on a bare PyBoy, for tests and benchmarks that must run without the env."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _FakeScreen:
    scx_by_line: list[int] = field(default_factory=lambda: [0] * 144)

    @property
    def tilemap_position_list(self) -> list[tuple[int, int]]:
        return [(x, 0) for x in self.scx_by_line]


class FakeMemory:
    def __init__(self) -> None:
        self.data = bytearray(0x10000)

    def __getitem__(self, addr: int) -> int:
        return self.data[addr]

    def __setitem__(self, addr: int, value: int) -> None:
        self.data[addr] = value & 0xFF


@dataclass
class FakeGameBoy:
    """`memory[addr]` and `screen.tilemap_position_list`, as much of PyBoy as the specs read."""

    memory: FakeMemory = field(default_factory=FakeMemory)
    screen: _FakeScreen = field(default_factory=_FakeScreen)

    def poke(self, values: dict[int, int]) -> FakeGameBoy:
        for addr, v in values.items():
            self.memory[addr] = v
        return self


def raw_turn(pb, buttons, render: bool = True) -> None:
    """One turn of GameBoyEnv's default frame-skip on a bare PyBoy: the buttons held for 15 frames if
    they include `a`, else 5, released for the last 2, and only the last frame rendered."""
    n = 15 if "a" in buttons else 5
    for b in buttons:
        pb.button_press(b)
    pb.tick(n - 2, False)
    for b in buttons:
        pb.button_release(b)
    pb.tick(2, render)
