"""A recording: the RAM after every turn of play, with the frame and the buttons, saved as one .npz.

Arrays (row 0 is the first playable frame, row t the state after turn t):

- `ram`     uint8 (T+1, N): the bytes of `regions`, concatenated in order
- `regions` int64 (R, 2): [start, end) address ranges; by default WRAM 0xC000-0xDFFF and
  0xFF00-0xFFFF (I/O registers such as SCX 0xFF43, and HRAM)
- `frames`  uint8 (T+1, 144, 160, 3): the screen after the turn
- `scroll`  int16 (T+1, 144, 4): (SCX, SCY, window x, window y) of every screen line, PyBoy's
  `screen.tilemap_position_list` (games that scroll mid-frame, such as Super Mario Land)
- `buttons` str (T+1,): the turn's buttons joined by "+" ("" for none; row 0 is "")
- `turn_frames` int64 (T+1,): frames the turn lasted (0 for row 0)
- `meta`    str (0-d): JSON with game, level, seed, how it was played
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_REGIONS = ((0xC000, 0xE000), (0xFF00, 0x10000))
SCREEN = (144, 160)


@dataclass
class Recording:
    ram: np.ndarray
    regions: np.ndarray
    frames: np.ndarray
    scroll: np.ndarray
    buttons: np.ndarray
    turn_frames: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def turns(self) -> int:
        return len(self.ram) - 1

    def addresses(self) -> np.ndarray:
        """The address of every column of `ram`."""
        return np.concatenate([np.arange(a, b) for a, b in self.regions])

    def column(self, addr: int) -> int:
        offset = 0
        for a, b in self.regions:
            if a <= addr < b:
                return offset + addr - a
            offset += b - a
        recorded = ", ".join(f"0x{a:04X}-0x{b - 1:04X}" for a, b in self.regions)
        raise ValueError(f"address 0x{addr:04X} is not in the recording (recorded: {recorded})")

    def motion(self) -> np.ndarray:
        """Per turn (T,): +1 right held, -1 left held, 0 neither (both held counts as neither)."""
        held = [set(b.split("+")) for b in self.buttons[1:]]
        return np.array([("right" in h) - ("left" in h) for h in held], dtype=np.int64)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:  # a file object: numpy would otherwise append ".npz" to other names
            np.savez_compressed(
                f, ram=self.ram, regions=self.regions, frames=self.frames, scroll=self.scroll,
                buttons=self.buttons, turn_frames=self.turn_frames, meta=np.array(json.dumps(self.meta)),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"recording {path} does not exist; make one with `gb-gym ram record`")
        try:
            with np.load(path, allow_pickle=False) as z:
                rec = cls(
                    ram=z["ram"], regions=z["regions"], frames=z["frames"], scroll=z["scroll"],
                    buttons=z["buttons"], turn_frames=z["turn_frames"], meta=json.loads(str(z["meta"])),
                )
        except (KeyError, ValueError, OSError) as e:
            raise ValueError(f"{path} is not a recording made by `gb-gym ram record` ({type(e).__name__}: {e})") from e
        width = sum(b - a for a, b in rec.regions)
        if rec.ram.ndim != 2 or rec.ram.shape[1] != width or len(rec.buttons) != len(rec.ram):
            raise ValueError(f"{path} is damaged: ram {rec.ram.shape} does not match its regions ({width} bytes)")
        return rec


class RecordedMemory:
    """`mem[addr]` over the recording. `row=None`: the whole series of an address as an int64 array
    (for formulas); a row: one int (for a spec's `read`)."""

    def __init__(self, rec: Recording, row: int | None = None):
        self.rec, self.row = rec, row

    def __getitem__(self, addr: int) -> Any:
        col = self.rec.ram[:, self.rec.column(int(addr))]
        return col.astype(np.int64) if self.row is None else int(col[self.row])


@dataclass
class _RecordedScreen:
    scroll: np.ndarray  # (144, 4)

    @property
    def tilemap_position_list(self) -> list[list[int]]:
        return self.scroll.tolist()


class RecordedGameBoy:
    """What a `GameSpec.read` sees of a PyBoy (`memory`, `screen.tilemap_position_list`), at one row."""

    def __init__(self, rec: Recording, row: int):
        self.memory = RecordedMemory(rec, row)
        self.screen = _RecordedScreen(rec.scroll[row])
