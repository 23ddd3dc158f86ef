"""Gymnasium environments for Game Boy games on PyBoy.

`import gb_gym` registers one env id per supported game (`GB/Hopland-v0`,
`GB/SuperMarioLand-v0`, `GB/KirbyDreamLand-v0`); `gym.make("gb_gym:GB/...")`
imports and registers in one go.
"""

from __future__ import annotations

import gymnasium as gym

from .actions import ANSWER_NAMES, BUTTONS, ENGINEERED, ORIGINAL, TURN, ButtonsSpace, TurnProtocol, parse_buttons
from .env import GameBoyEnv
from .games import GAMES, get_spec
from .roms import RomError, RomNotFoundError
from .spec import Enemy, GameSpec, GameState, RomInfo, Scene

__version__ = "0.1.0"


def _register_all() -> None:
    for spec in GAMES.values():
        if spec.env_id not in gym.registry:
            gym.register(
                id=spec.env_id,
                entry_point="gb_gym.env:GameBoyEnv",
                kwargs={"game": spec.name},
                max_episode_steps=spec.max_episode_steps,
            )


_register_all()

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
    "parse_buttons",
]
