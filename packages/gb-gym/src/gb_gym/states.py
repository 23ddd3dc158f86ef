"""Save states with a checksum: `MAGIC`, the SHA-256 of (game name + PyBoy payload), the game name,
then PyBoy's own state. PyBoy loads a changed byte silently, so the hash is what catches corruption;
states without the header (saved by PyBoy or other tools) still load, unchecked."""

from __future__ import annotations

import hashlib

MAGIC = b"GBGYM1"
_HASH = 32
FIX = "use an intact copy, or save a new one with env.unwrapped.clone_state()"


class StateError(ValueError):
    """A saved state is corrupt or belongs to another game."""


def pack_state(payload: bytes, game: str) -> bytes:
    name = game.encode()
    if len(name) > 255:
        raise ValueError(f"game name {game!r} is longer than 255 bytes")
    return MAGIC + hashlib.sha256(name + payload).digest() + bytes([len(name)]) + name + payload


def unpack_state(data: bytes, game: str | None = None, source: str = "the state") -> tuple[bytes, bool]:
    """PyBoy's payload of `data` and whether it was checked (False: a raw PyBoy state, no header).
    Raises StateError when the hash does not match or, with `game`, when it was saved by another game."""
    data = bytes(data)
    if not data.startswith(MAGIC):
        return data, False
    head = len(MAGIC) + _HASH + 1
    n = data[head - 1] if len(data) >= head else 0
    if len(data) < head + n:
        raise StateError(f"{source} is corrupt: its gb-gym header is cut short ({len(data)} bytes); {FIX}")
    digest, name, payload = data[len(MAGIC) : head - 1], data[head : head + n], data[head + n :]
    if hashlib.sha256(name + payload).digest() != digest:
        raise StateError(
            f"{source} is corrupt: its SHA-256 does not match its content (a changed, missing or extra byte); {FIX}"
        )
    saved_by = name.decode(errors="replace")
    if game is not None and saved_by != game:
        raise StateError(
            f"{source} was saved by the game {saved_by!r}, not {game!r}: load it into an env of "
            f"{saved_by!r}, or save a state of {game!r}"
        )
    return payload, True
