"""Hop Dash, a homebrew game for gb-gym (see hopdash.game).

Installed, gb-gym finds it by name through its `gb_gym.games` entry point. Importing this package also
registers it, so the Gymnasium way works too: `gym.make("hopdash:GB/HopDash-v0")`.
"""

import gb_gym

from .game import HopDash

gb_gym.register_game(HopDash)

__all__ = ["HopDash"]
