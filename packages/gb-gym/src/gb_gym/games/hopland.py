"""Hopland: our own cartridge (source in packages/gb-gym/cart, RAM map in docs/cartridge.md)."""

from __future__ import annotations

from typing import Any

from ..spec import Enemy, GameBoyLike, GameSpec, GameState, RomInfo, Scene
from . import hopland_ram as ram

BOOT_FRAMES_MAX = 600
START_FRAMES_MAX = 300


def _boot_to_title(pb: Any) -> None:
    for _ in range(BOOT_FRAMES_MAX):
        pb.tick(1, False)
        if pb.memory[ram.MAGIC] == ram.MAGIC_VALUE and pb.memory[ram.STATE] == ram.STATE_TITLE:
            return
    raise RuntimeError(f"Hopland did not reach its title screen within {BOOT_FRAMES_MAX} frames: is the ROM corrupt?")


class Hopland(GameSpec):
    name = "hopland"
    env_id = "GB/Hopland-v0"
    display_name = "Hopland"
    rom = RomInfo(title="HOPLAND", filename="hopland.gb", bundled=True)
    levels = ram.LEVEL_NAMES
    default_level = ram.LEVEL_NAMES[0]
    max_episode_steps = 400

    def start(self, session: Any, level: str, seed: int) -> Any:
        def setup(pb: Any) -> None:
            _boot_to_title(pb)
            session.snapshots["title"] = session.save(pb)

        pb = session.pyboy("main", setup)
        session.load(pb, session.snapshots["title"])
        mem = pb.memory
        mem[ram.LEVEL] = self.levels.index(level)
        mem[ram.SEED] = seed & 0xFF
        mem[ram.SEED + 1] = (seed >> 8) & 0xFF
        pb.button("start")
        for _ in range(START_FRAMES_MAX):
            pb.tick(1, False)
            if mem[ram.STATE] == ram.STATE_PLAYING:
                return pb
        raise RuntimeError(f"Hopland did not start level {level} within {START_FRAMES_MAX} frames")

    def read(self, gb: GameBoyLike) -> GameState:
        mem = gb.memory
        state = mem[ram.STATE]
        return GameState(
            x_progress=ram.x_progress(mem),
            level=self.levels[min(mem[ram.LEVEL], len(self.levels) - 1)],
            lives=mem[ram.LIVES],
            dying=state == ram.STATE_DYING,
            game_over=state == ram.STATE_GAME_OVER,
            level_complete=state == ram.STATE_COMPLETE,
        )

    def scene(self, gb: GameBoyLike) -> Scene:
        mem = gb.memory
        x, y = ram.x_progress(mem), mem[ram.PLAYER_Y]
        enemies = tuple(Enemy(dx=ex - x, dy=ey - y, kind="walker") for ex, ey in ram.enemies(mem))
        return Scene(
            game=self.name,
            level=self.read(gb).level,
            lives=mem[ram.LIVES],
            x_progress=x,
            player_y=y,
            on_ground=bool(mem[ram.PLAYER_FLAGS] & 1),
            enemies=enemies,
            terrain=tuple(ram.terrain_ahead(mem)),
            goal_dx=ram.level_end(mem) - x,
        )

    def scripted_decision(self, gb: GameBoyLike) -> tuple[tuple[str, ...], str]:
        from .hopland_bot import bot_decision

        buttons, reason = bot_decision(gb.memory)
        return tuple(buttons), reason
