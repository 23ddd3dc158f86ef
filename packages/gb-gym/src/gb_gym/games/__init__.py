"""The supported games, one `GameSpec` each. Add a game by adding a module and a line here."""

from __future__ import annotations

from ..spec import GameSpec
from .hopland import Hopland
from .kirby import KirbyDreamLand
from .mario import SuperMarioLand

GAMES: dict[str, GameSpec] = {spec.name: spec for spec in (Hopland(), SuperMarioLand(), KirbyDreamLand())}


def get_spec(game: str | GameSpec) -> GameSpec:
    if isinstance(game, GameSpec):
        return game
    if game not in GAMES:
        raise ValueError(f"unknown game {game!r}; supported games: {', '.join(GAMES)}")
    return GAMES[game]
