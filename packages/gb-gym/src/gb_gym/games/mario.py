"""Super Mario Land (1989). RAM map from PyBoy's game wrapper and public RAM maps.

The `Scene` is read from PyBoy's `game_area()` tile matrix (see `game_area`), with PyBoy's own
tile table for the game (`GameWrapperSuperMarioLand.mapping_minimal`: Mario, bonus, solid, enemy).
NOT RUN on the real game here (no ROM): tested on hand-made matrices only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyboy.plugins.game_wrapper_super_mario_land import GameWrapperSuperMarioLand

from ..spec import GameBoyLike, GameSpec, GameState, RomInfo, Scene
from . import game_area as ga

WORLD_LEVEL = 0xFFB4  # high nibble world, low nibble level
LIVES = 0xDA15  # BCD
LEVEL_BLOCK = 0xC0AB  # coarse scroll position, in 16-px blocks
MARIO_X = 0xC202  # Mario's x on screen
GAME_OVER = 0xC0A4  # == 0x39 on the game-over screen
DEATH_TIMER = 0xFFA6  # > 0x80 while the death animation plays
PROGRESS_SCANLINE = 16  # the HUD scrolls separately; the playfield's SCX is read below it
LEVELS = tuple(f"{w}-{lv}" for w in range(1, 5) for lv in range(1, 4))
AREA_TOP = 16  # px: PyBoy's Mario game area starts below the two HUD rows
RUN = ("b", "right")

# PyBoy's minimal classes (0 empty, 1 Mario, 2 coin/mushroom/..., 3 solid, 4 enemy) as game-area kinds;
# bonuses are walked through, so they read as empty
_KIND_OF_CLASS = np.array([ga.EMPTY, ga.PLAYER, ga.EMPTY, ga.SOLID, ga.ENEMY])
KIND_OF_TILE = _KIND_OF_CLASS[GameWrapperSuperMarioLand.mapping_minimal]


def bcd(value: int) -> int:
    return (value >> 4) * 10 + (value & 0x0F)


def area_kinds(area: np.ndarray) -> np.ndarray:
    """Kinds of the cells of a raw `game_area()` (PyBoy's default one-to-one tile mapping)."""
    area = np.asarray(area)
    if area.size and area.max() >= len(KIND_OF_TILE):
        raise ValueError(f"tile id {area.max()} is not a Game Boy tile: pass game_area() with PyBoy's default "
                         "mapping (do not set game_area_mapping)")
    return KIND_OF_TILE[area]


def playfield_scx(gb: GameBoyLike) -> int:
    """SCX of the playfield, which the game changes mid-frame below the HUD."""
    return gb.screen.tilemap_position_list[PROGRESS_SCANLINE][0]


class SuperMarioLand(GameSpec):
    name = "mario"
    env_id = "GB/SuperMarioLand-v0"
    display_name = "Super Mario Land"
    rom = RomInfo(
        title="SUPER MARIOLAND",
        sha256=("470d6c45c9bcf7f0397d00c1ae6de727c63dd471049c8eedbefdc540ceea80b4",),
        filename="super_mario_land.gb",
    )
    levels = LEVELS
    default_level = "1-1"
    max_episode_steps = 400  # the paper's main run

    def start(self, session: Any, level: str, seed: int) -> Any:
        world, stage = (int(x) for x in level.split("-"))
        # PyBoy's wrapper patches the title menu to start `level` and keeps its own snapshot;
        # one emulator per level, because that patch is made once per instance.
        pb = session.pyboy(level, lambda p: p.game_wrapper.start_game(timer_div=0, world_level=(world, stage)))
        pb.game_wrapper.reset_game(timer_div=seed & 0xFF)
        return pb

    def read(self, gb: GameBoyLike) -> GameState:
        mem = gb.memory
        progress = mem[LEVEL_BLOCK] * 16 + (playfield_scx(gb) - 7) % 16 + mem[MARIO_X]
        wl = mem[WORLD_LEVEL]
        return GameState(
            x_progress=progress,
            level=f"{wl >> 4}-{wl & 0x0F}",
            lives=bcd(mem[LIVES]),
            dying=mem[DEATH_TIMER] > 0x80,
            game_over=mem[GAME_OVER] == 0x39,
            level_complete=False,  # no flag: see level_complete
        )

    def level_complete(self, prev: GameState, now: GameState) -> bool:
        # no RAM flag: the world/level byte moving on (not into game over) is the level's end
        return now.level_complete or (now.level != prev.level and not now.game_over)

    def scene(self, gb: GameBoyLike) -> Scene:
        st = self.read(gb)
        kinds = area_kinds(gb.game_wrapper.game_area())
        player = ga.find_player(kinds)
        base = dict(game=self.name, level=st.level, lives=st.lives, x_progress=st.x_progress)
        if player is None:  # Mario off screen (between lives, in a pipe): nothing to describe
            return Scene(**base, player_y=0, on_ground=False)
        facts = ga.area_facts(kinds, player)
        return Scene(**base, player_y=AREA_TOP + facts.player_y, on_ground=facts.on_ground,
                     enemies=facts.enemies, terrain=facts.terrain)

    def scripted_decision(self, gb: GameBoyLike) -> tuple[tuple[str, ...], str]:
        st = self.read(gb)
        if st.dying or st.game_over:
            return ga.NOOP, "not playing: wait"
        scene = self.scene(gb)
        if scene.terrain is None:
            return ga.NOOP, "Mario is not on screen: wait"
        return ga.rule_decision(scene, RUN)
