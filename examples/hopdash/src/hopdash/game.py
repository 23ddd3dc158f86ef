"""Hop Dash: a game for gb-gym written outside it, with its public API only.

The cartridge is a homebrew one that ships in this package (roms/hopdash.gb: Hopland's bytes, free to
redistribute). The game is played and scored its own way:

- up to three buttons at once (`max_buttons = 3`), so a running jump, `a` + `b` + `right`, is one answer;
- progress is the distance run plus STOMP_BONUS pixels per enemy stomped, so stomping pays.

The RAM addresses are the cartridge's published map (docs/cartridge.md). For a cartridge without one,
`gb-gym ram` finds such addresses by watching RAM while you play (docs/ram-explorer.md).
"""

from __future__ import annotations

from typing import Any

from gb_gym import GameSpec, GameState, RomInfo

# the cartridge's RAM map (docs/cartridge.md), valid whenever PyBoy's tick() returns
MAGIC, STATE, LEVEL, LIVES, X_PROGRESS, SEED, STOMPS = 0xC000, 0xC001, 0xC002, 0xC003, 0xC004, 0xC010, 0xC042
MAGIC_VALUE = 0x48  # MAGIC holds it once the cartridge has initialised
TITLE, PLAYING, DYING, COMPLETE, GAME_OVER = 0, 1, 2, 3, 4  # values of STATE
STOMP_BONUS = 32  # px of progress per enemy stomped
BOOT_FRAMES, START_FRAMES = 600, 300


class HopDash(GameSpec):
    name = "hopdash"
    env_id = "GB/HopDash-v0"
    display_name = "Hop Dash"
    rom = RomInfo(title="HOPLAND", filename="hopdash.gb", bundled=True, package="hopdash")
    levels = ("1", "2", "3", "4")
    default_level = "1"
    max_episode_steps = 300
    max_buttons = 3

    def start(self, session: Any, level: str, seed: int) -> Any:
        def boot(pb: Any) -> None:  # once per emulator: power on, wait for the title screen, snapshot it
            for _ in range(BOOT_FRAMES):
                pb.tick(1, False)
                if pb.memory[MAGIC] == MAGIC_VALUE and pb.memory[STATE] == TITLE:
                    session.snapshots["title"] = session.save(pb)
                    return
            raise RuntimeError(f"Hop Dash did not reach its title screen within {BOOT_FRAMES} frames: wrong ROM?")

        pb = session.pyboy("main", boot)
        session.load(pb, session.snapshots["title"])
        # the title screen reads the level and the RNG seed from RAM when start is pressed
        pb.memory[LEVEL] = self.levels.index(level)
        pb.memory[SEED] = seed & 0xFF
        pb.memory[SEED + 1] = (seed >> 8) & 0xFF
        pb.button("start")
        for _ in range(START_FRAMES):
            pb.tick(1, False)
            if pb.memory[STATE] == PLAYING:
                return pb
        raise RuntimeError(f"Hop Dash did not start level {level} within {START_FRAMES} frames")

    def read(self, gb: Any) -> GameState:
        mem = gb.memory
        state = mem[STATE]
        distance = mem[X_PROGRESS] | (mem[X_PROGRESS + 1] << 8)
        return GameState(
            x_progress=distance + STOMP_BONUS * mem[STOMPS],
            level=self.levels[min(mem[LEVEL], len(self.levels) - 1)],
            lives=mem[LIVES],
            dying=state == DYING,
            game_over=state == GAME_OVER,
            level_complete=state == COMPLETE,
        )
