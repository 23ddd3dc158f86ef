"""Gymnasium environments for Game Boy games on PyBoy.

`import gb_gym` registers one env id per built-in game (`GB/Hopland-v0`,
`GB/SuperMarioLand-v0`, `GB/KirbyDreamLand-v0`); `gym.make("gb_gym:GB/...")`
imports and registers in one go. Games of other packages: `register_game(spec)`,
or the `gb_gym.games` entry point group, loaded by `get_spec(name)` on first use
(docs/adding-a-game.md).
"""

from __future__ import annotations

from .actions import ANSWER_NAMES, BUTTONS, ENGINEERED, ORIGINAL, TURN, ButtonsSpace, TurnProtocol, parse_buttons
from .env import GameBoyEnv
from .games import GAMES, get_spec, installed_games, register_game
from .roms import RomError, RomNotFoundError
from .spec import Enemy, GameSpec, GameState, RomInfo, Scene

__version__ = "0.1.0"


__all__ = [
    "ANSWER_NAMES",
    "BUTTONS",
    "ENGINEERED",
    "GAMES",
    "ORIGINAL",
    "ButtonsSpace",
    "Enemy",
    "GameBoyEnv",
    "GameSpec",
    "GameState",
    "RomError",
    "RomInfo",
    "RomNotFoundError",
    "Scene",
    "TURN",
    "TurnProtocol",
    "get_spec",
    "installed_games",
    "parse_buttons",
    "register_game",
]
