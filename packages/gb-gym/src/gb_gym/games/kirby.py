"""Kirby's Dream Land (1992).

Lives and health are from PyBoy's game wrapper. The x-progress formula is
UNVERIFIED on a real ROM: it is the form other projects use (coarse scroll
block × 16 + fine scroll + Kirby's x on screen) and may be wrong; check it with
`gb-gym ram check --spec kirby` on a recording (docs/ram-explorer.md) and
`tests/test_rom_games.py` if you have the ROM, and report what you see.
"""

from __future__ import annotations

from typing import Any

from ..spec import GameBoyLike, GameSpec, GameState, RomInfo

SCROLL_BLOCK = 0xD053  # coarse scroll X
KIRBY_X = 0xD05C  # Kirby's x on screen
SCX = 0xFF43
HEALTH = 0xD086
LIVES_PLUS_ONE = 0xD089
GAME_STATE = 0xD02C  # 6 = warp star or dying


class KirbyDreamLand(GameSpec):
    name = "kirby"
    env_id = "GB/KirbyDreamLand-v0"
    display_name = "Kirby's Dream Land"
    rom = RomInfo(
        title="KIRBY DREAM LAN",
        sha256=("0f6dba94fae248d419083001c42c02a78be6bd3dff679c895517559e72c98d58",),
        filename="kirby_dream_land.gb",
    )
    # PyBoy's wrapper starts at Green Greens; later levels need saved states
    # (reset(options={"state": ...})) until a level-select patch is known.
    levels = ("1",)
    default_level = "1"
    max_episode_steps = 400

    def start(self, session: Any, level: str, seed: int) -> Any:
        pb = session.pyboy(level, lambda p: p.game_wrapper.start_game(timer_div=0))
        pb.game_wrapper.reset_game(timer_div=seed & 0xFF)
        return pb

    def read(self, gb: GameBoyLike) -> GameState:
        mem = gb.memory
        lives = max(mem[LIVES_PLUS_ONE] - 1, 0)
        health = mem[HEALTH]
        return GameState(
            x_progress=mem[SCROLL_BLOCK] * 16 + (mem[SCX] - 7) % 16 + mem[KIRBY_X],
            level="1",
            lives=lives,
            dying=health == 0,
            game_over=lives == 0 and health == 0,
            level_complete=False,  # no verified RAM flag; the warp star shares GAME_STATE 6 with dying
        )
