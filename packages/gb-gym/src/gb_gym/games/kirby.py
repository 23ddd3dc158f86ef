"""Kirby's Dream Land (1992).

Lives and health are from PyBoy's game wrapper. The x-progress formula is
UNVERIFIED on a real ROM: it is the form other projects use (coarse scroll
block × 16 + fine scroll + Kirby's x on screen) and may be wrong; check it with
`gb-gym ram check --spec kirby` on a recording (docs/ram-explorer.md) and
`tests/test_rom_games.py` if you have the ROM, and report what you see.

The `Scene` is read from PyBoy's `game_area()` tile matrix (see `game_area`). PyBoy's Kirby wrapper
has no tile table, so what is known is thin, and all of it is UNVERIFIED (NOT RUN on the real game here):
- 383 is the empty (sky) tile, and 328, 330, 331, 334 and 277..282 are the ground of Green Greens:
  read off the one example frame in PyBoy's `GameWrapperKirbyDreamLand.game_area` docstring. Every
  other background tile (clouds, trees, grass tufts 272/274) is taken as scenery one passes through;
  later levels' ground tiles are not in the table, so there the terrain reads as pits.
- Sprites: tile ids below 256 (background tiles are 256..383 in that frame) are sprites; those on
  Kirby's cells are Kirby, the others enemies (items and Kirby's puffs too: they are not told apart).
- Kirby's cells: a 16x16 box at (0xD05C, 0xD05D), public RAM maps' x and y on screen, taken as the
  top-left corner in screen px.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..spec import GameBoyLike, GameSpec, GameState, RomInfo, Scene
from . import game_area as ga

SCROLL_BLOCK = 0xD053  # coarse scroll X
KIRBY_X = 0xD05C  # Kirby's x on screen
KIRBY_Y = 0xD05D  # Kirby's y on screen
SCX = 0xFF43
HEALTH = 0xD086
LIVES_PLUS_ONE = 0xD089
GAME_STATE = 0xD02C  # 6 = warp star or dying

EMPTY_TILE = 383
GROUND_TILES = (328, 330, 331, 334, 277, 278, 279, 280, 281, 282)
FIRST_BACKGROUND_TILE = 256
RUN = ("right",)  # B inhales in this game: walking right is its "run"


def area_kinds(area: np.ndarray) -> np.ndarray:
    """Kinds of the cells of a raw `game_area()` (PyBoy's default one-to-one tile mapping); Kirby's
    own sprites read as enemies until `player_box` claims them."""
    area = np.asarray(area)
    kinds = np.where(area < FIRST_BACKGROUND_TILE, ga.ENEMY, ga.EMPTY)
    return np.where(np.isin(area, GROUND_TILES), ga.SOLID, kinds)


def player_box(x: int, y: int) -> ga.Box:
    """Kirby's 2x2 cells for his on-screen position in px (top-left)."""
    return ga.Box(x // ga.TILE, y // ga.TILE, x // ga.TILE + 1, y // ga.TILE + 1)


def area_facts(area: np.ndarray, x: int, y: int) -> ga.AreaFacts:
    """Terrain, enemies and stance from a raw game area and Kirby's on-screen position."""
    kinds = area_kinds(area)
    box = player_box(x, y)
    mine = kinds[box.row : box.row_end + 1, box.col : box.col_end + 1]
    mine[mine == ga.ENEMY] = ga.PLAYER  # Kirby's own sprites
    return ga.area_facts(kinds, box)


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

    def scene(self, gb: GameBoyLike) -> Scene:
        st = self.read(gb)
        facts = area_facts(gb.game_wrapper.game_area(), gb.memory[KIRBY_X], gb.memory[KIRBY_Y])
        return Scene(game=self.name, level=st.level, lives=st.lives, x_progress=st.x_progress,
                     player_y=gb.memory[KIRBY_Y], on_ground=facts.on_ground, enemies=facts.enemies,
                     terrain=facts.terrain)

    def scripted_decision(self, gb: GameBoyLike) -> tuple[tuple[str, ...], str]:
        if self.read(gb).dying:
            return ga.NOOP, "not playing: wait"
        return ga.rule_decision(self.scene(gb), RUN)
