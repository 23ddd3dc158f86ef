"""Test doubles: a fake Game Boy with synthetic RAM, so game specs can be tested without ROMs."""

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
