"""Super Mario Land (1989). RAM map from PyBoy's game wrapper and public RAM maps."""

from __future__ import annotations

from typing import Any

from ..spec import GameBoyLike, GameSpec, GameState, RomInfo

WORLD_LEVEL = 0xFFB4  # high nibble world, low nibble level
LIVES = 0xDA15  # BCD
LEVEL_BLOCK = 0xC0AB  # coarse scroll position, in 16-px blocks
MARIO_X = 0xC202  # Mario's x on screen
GAME_OVER = 0xC0A4  # == 0x39 on the game-over screen
DEATH_TIMER = 0xFFA6  # > 0x80 while the death animation plays
PROGRESS_SCANLINE = 16  # the HUD scrolls separately; the playfield's SCX is read below it
LEVELS = tuple(f"{w}-{lv}" for w in range(1, 5) for lv in range(1, 4))


def bcd(value: int) -> int:
    return (value >> 4) * 10 + (value & 0x0F)


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
