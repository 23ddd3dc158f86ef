"""Values a game may keep in RAM, built from a recording's bytes: single bytes, 16-bit pairs (little
and big endian) and "page:offset" pairs of two nearby bytes (hi * 256 + lo), each as a series over
the recording's rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .recording import Recording

PAGE_SPAN = 8  # how far apart the two bytes of a page:offset pair may be


@dataclass(frozen=True)
class Value:
    kind: str  # "u8", "u16le", "u16be" or "page"
    addrs: tuple[int, ...]  # (addr,); (lo, hi) for u16le and page; (hi, lo) for u16be

    @property
    def label(self) -> str:
        if self.kind == "u8":
            return f"0x{self.addrs[0]:04X}"
        if self.kind == "u16le":
            return f"0x{self.addrs[0]:04X} u16le"
        if self.kind == "u16be":
            return f"0x{self.addrs[0]:04X} u16be"
        return f"0x{self.addrs[1]:04X}:0x{self.addrs[0]:04X}"  # page:offset

    @property
    def expr(self) -> str:
        """Python reading this value from `mem` (for formulas and the spec skeleton)."""
        a = [f"mem[0x{x:04X}]" for x in self.addrs]
        if self.kind == "u8":
            return a[0]
        if self.kind in ("u16le", "page"):
            return f"({a[0]} | {a[1]} << 8)"
        return f"({a[0]} << 8 | {a[1]})"


def byte_values(rec: Recording) -> tuple[list[Value], np.ndarray]:
    """Every recorded byte that changes, as (values, series (T+1, C) int64)."""
    addrs = rec.addresses()
    changing = np.flatnonzero((rec.ram != rec.ram[0]).any(axis=0))
    return [Value("u8", (int(addrs[i]),)) for i in changing], rec.ram[:, changing].astype(np.int64)


def pair_values(rec: Recording, page_lo: list[int] | None = None) -> tuple[list[Value], np.ndarray]:
    """16-bit pairs of adjacent bytes (at least one changing), and page:offset pairs hi * 256 + lo
    with lo from `page_lo` (columns) and hi a changing byte up to PAGE_SPAN away, not adjacent."""
    addrs = rec.addresses()
    ram = rec.ram.astype(np.int64)
    changes = (rec.ram != rec.ram[0]).any(axis=0)
    values, cols = [], []
    for i in range(len(addrs) - 1):
        if addrs[i + 1] != addrs[i] + 1 or not (changes[i] or changes[i + 1]):
            continue
        a = int(addrs[i])
        values += [Value("u16le", (a, a + 1)), Value("u16be", (a, a + 1))]
        cols += [ram[:, i] | ram[:, i + 1] << 8, ram[:, i] << 8 | ram[:, i + 1]]
    for lo in page_lo or []:
        for hi in range(max(0, lo - PAGE_SPAN), min(len(addrs), lo + PAGE_SPAN + 1)):
            if abs(hi - lo) < 2 or not changes[hi] or abs(int(addrs[hi]) - int(addrs[lo])) != abs(hi - lo):
                continue
            values.append(Value("page", (int(addrs[lo]), int(addrs[hi]))))
            cols.append(ram[:, hi] << 8 | ram[:, lo])
    series = np.stack(cols, axis=1) if cols else np.zeros((len(ram), 0), np.int64)
    return values, series


def wrap8(d: np.ndarray) -> np.ndarray:
    """Byte differences taken modulo 256 into -128..127 (a counter's wrap is a step of +1)."""
    return (d + 128) % 256 - 128
