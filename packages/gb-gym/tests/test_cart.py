"""Our own cartridge, Hopland, driven through raw PyBoy (no env class).

The helpers below are the host protocol (boot, pick a level and seed, START)
and the env's turn protocol (`gb_gym.actions.TURN`: press the turn's buttons,
tick n - 2 frames, release, tick 2; n = 15 with "a", else 5), as described in
docs/cartridge.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from pyboy import PyBoy

from gb_gym.actions import TURN
from gb_gym.games import hopland_ram as ram
from gb_gym.games.hopland_bot import bot_buttons, bot_decision
from gb_gym.testing import raw_turn

ROM = Path(str(resources.files("gb_gym") / "roms" / "hopland.gb"))
CART_DIR = Path(__file__).resolve().parents[1] / "cart"

BOOT_FRAMES_MAX = 600
START_FRAMES_MAX = 120
BOT_TURN_BUDGET = 400  # the env's episode limit; the bot needs 120-270


# ---- host protocol -----------------------------------------------------------


def boot() -> PyBoy:
    """A fresh emulator on the title screen (magic set, state = title)."""
    pb = PyBoy(str(ROM), window="null", sound_emulated=False)
    for _ in range(BOOT_FRAMES_MAX):
        pb.tick(1, False)
        if pb.memory[ram.MAGIC] == ram.MAGIC_VALUE and pb.memory[ram.STATE] == ram.STATE_TITLE:
            return pb
    pb.stop(save=False)
    raise AssertionError(f"no title screen within {BOOT_FRAMES_MAX} frames")


def start_level(pb: PyBoy, level: int, seed: int = 0) -> int:
    """On the title screen: write LEVEL and SEED, press START, tick until playing.

    Returns the number of frames it took."""
    mem = pb.memory
    assert mem[ram.STATE] == ram.STATE_TITLE
    mem[ram.LEVEL] = level
    mem[ram.SEED] = seed & 0xFF
    mem[ram.SEED + 1] = (seed >> 8) & 0xFF
    pb.button("start")
    for frames in range(1, START_FRAMES_MAX + 1):
        pb.tick(1, False)
        if mem[ram.STATE] == ram.STATE_PLAYING:
            return frames
    raise AssertionError(f"level {level} did not start within {START_FRAMES_MAX} frames")


def play_turn(pb: PyBoy, buttons: Iterable[str], render: bool = False) -> None:
    """One turn of the env's protocol."""
    buttons = tuple(buttons)
    assert len(buttons) <= 2
    raw_turn(pb, buttons, render)


def playing_level(level: int, seed: int = 0) -> PyBoy:
    pb = boot()
    start_level(pb, level, seed)
    return pb


def run_bot(pb: PyBoy, max_turns: int = BOT_TURN_BUDGET, stop_when=None) -> int:
    """Let the scripted bot play until the level is left (or ``stop_when(mem)``)."""
    mem = pb.memory
    for t in range(max_turns):
        if mem[ram.STATE] != ram.STATE_PLAYING or (stop_when is not None and stop_when(mem)):
            return t
        buttons = bot_buttons(mem)
        assert len(buttons) <= 2 and set(buttons) <= {"a", "b", "up", "down", "left", "right"}
        play_turn(pb, buttons)
    return max_turns


def screen(pb: PyBoy) -> np.ndarray:
    return np.array(pb.screen.ndarray)


# ---- the ROM and the build -------------------------------------------------------


def test_rom_header():
    data = ROM.read_bytes()
    assert len(data) == 32 * 1024
    assert data[0x134:0x144].rstrip(b"\0") == b"HOPLAND"
    assert data[0x147] == 0x00  # ROM only
    assert data[0x148] == 0x00  # 32 KiB
    assert data[0x149] == 0x00  # no cartridge RAM
    checksum = 0
    for b in data[0x134:0x14D]:
        checksum = (checksum - b - 1) & 0xFF
    assert data[0x14D] == checksum


def test_build_is_reproducible():
    if shutil.which("sdcc") is None or shutil.which("sdasgb") is None or shutil.which("makebin") is None:
        pytest.skip("sdcc (with sdasgb and makebin) is not on PATH: cannot rebuild the cartridge")
    proc = subprocess.run(["sh", str(CART_DIR / "build.sh"), "--check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# C name in cart/main.c -> hopland_ram name (the game's live copy sits at +0x100)
C_RAM_NAMES = {
    "magic": "MAGIC",
    "state": "STATE",
    "lives": "LIVES",
    "px": "X_PROGRESS",
    "py": "PLAYER_Y",
    "pflags": "PLAYER_FLAGS",
    "pvx": "PLAYER_VX",
    "pvy": "PLAYER_VY",
    "end_x": "LEVEL_END",
    "cam_x": "CAMERA_X",
    "frame": "FRAME",
    "death_cause": "DEATH_CAUSE",
    "obj_table": "OBJECTS",
    "ahead": "TERRAIN_AHEAD",
    "ground_h": "GROUND_HEIGHT",
    "timer": "TIMER",
    "stomps": "STOMPS",
    "n_levels": "NUM_LEVELS",
    "rng": "RNG_STATE",
    "overruns": "VBLANK_OVERRUNS",
    "screen_x": "SCREEN_X",
    "level_px": "LEVEL_LENGTH",
    "obj_vx": "OBJECT_VX",
    "ram_version": "RAM_VERSION",
    "subpx": "SUBPIXELS",
    "obj_sub": "OBJECT_SUBPX",
    "behind": "TERRAIN_BEHIND",
}
C_CONSTANTS = {
    "WALK_MAX": "WALK_MAX",
    "RUN_MAX": "RUN_MAX",
    "WALK_ACCEL": "WALK_ACCEL",
    "RUN_ACCEL": "RUN_ACCEL",
    "FRICTION": "FRICTION",
    "TURN_DECEL": "TURN_DECEL",
    "AIR_DECEL": "AIR_DECEL",
    "GRAVITY": "GRAVITY",
    "MAX_FALL": "MAX_FALL",
    "WALK_JUMP": "WALK_JUMP_VY",
    "RUN_JUMP": "RUN_JUMP_VY",
    "RUN_JUMP_MIN": "RUN_JUMP_MIN_VX",
    "STOMP_BOUNCE": "STOMP_BOUNCE_VY",
    "START_X": "LEVEL_START_X",
    "CAMERA_LEAD": "CAMERA_LEAD",
    "GROUND_BOTTOM": "GROUND_BOTTOM",
}


def test_python_ram_map_matches_the_cartridge_source():
    source = CART_DIR / "main.c"
    if not source.exists():
        pytest.skip("cartridge source not in this checkout")
    text = source.read_text()
    at = {name: int(addr, 16) for addr, name in re.findall(r"__at\((0x[0-9A-Fa-f]+)\)\s+\w+\s+(\w+)", text)}
    assert at["pub_level"] == ram.LEVEL and at["pub_seed"] == ram.SEED
    for c_name, py_name in C_RAM_NAMES.items():
        assert at[c_name] - 0x100 == getattr(ram, py_name), c_name
    defines = {name: int(value) for name, value in re.findall(r"^#define\s+(\w+)\s+(\d+)\b", text, re.M)}
    for c_name, py_name in C_CONSTANTS.items():
        assert defines[c_name] == getattr(ram, py_name), c_name


def test_boots_to_title():
    pb = boot()
    mem = pb.memory
    assert mem[ram.MAGIC] == 0x48
    assert mem[ram.STATE] == ram.STATE_TITLE
    assert mem[ram.NUM_LEVELS] == len(ram.LEVEL_NAMES) == 4
    assert mem[ram.RAM_VERSION] == ram.RAM_VERSION_VALUE
    assert mem[ram.LIVES] == ram.START_LIVES
    pb.tick(2, True)
    assert screen(pb)[:, :, :3].std() > 20  # the title is drawn
    pb.stop(save=False)


def test_title_picks_the_level_with_up_and_down():
    pb = boot()
    mem = pb.memory
    pb.tick(4, True)
    before = screen(pb)
    assert mem[ram.LEVEL] == 0
    pb.button("up")
    pb.tick(4, True)
    assert mem[ram.LEVEL] == 1
    assert not np.array_equal(before, screen(pb))  # the shown level changed
    pb.button("down")
    pb.tick(4, False)
    pb.button("down")
    pb.tick(4, False)
    assert mem[ram.LEVEL] == 3  # wraps round
    pb.stop(save=False)


# ---- starting levels -------------------------------------------------------------


@pytest.mark.parametrize("level", range(4))
def test_start_level_via_host_protocol(level):
    pb = boot()
    frames = start_level(pb, level, seed=1234)
    mem = pb.memory
    assert frames < 30
    assert mem[ram.STATE] == ram.STATE_PLAYING
    assert mem[ram.LEVEL] == level
    assert mem[ram.LIVES] == 3
    assert ram.x_progress(mem) == ram.LEVEL_START_X == 16
    assert ram.camera_x(mem) == 0
    assert ram.on_ground(mem)
    assert ram.seed(mem) == 1234
    assert 1000 <= ram.level_end(mem) < ram.u16(mem, ram.LEVEL_LENGTH) <= 2000
    assert ram.terrain_ahead(mem)[0] == mem[ram.GROUND_HEIGHT] == 2
    pb.stop(save=False)


def test_levels_get_longer_and_harder():
    ends = []
    for level in range(4):
        pb = playing_level(level)
        ends.append(ram.level_end(pb.memory))
        pb.stop(save=False)
    assert ends[0] < ends[1] < ends[2]  # 1 < 2 < 3 in length
    assert ends == [1148, 1556, 1844, 1580]


# ---- physics -------------------------------------------------------------------


def test_holding_right_gets_stuck_on_level_1():
    pb = playing_level(0)
    mem = pb.memory
    xs = []
    for _ in range(100):
        play_turn(pb, ["right"])
        xs.append(ram.x_progress(mem))
        assert mem[ram.STATE] == ram.STATE_PLAYING
    assert xs[-1] < ram.level_end(mem)
    stuck_at = xs.index(xs[-1])
    assert stuck_at < 40  # stuck within 40 turns ...
    assert xs[stuck_at:] == [xs[-1]] * (len(xs) - stuck_at)  # ... and for good
    assert xs[-1] == 20 * 8 - 7  # against the first step (column 20)
    pb.stop(save=False)


def test_walking_and_running_speeds():
    pb = playing_level(2)  # level 3 starts with 22 flat columns
    mem = pb.memory
    for _ in range(4):
        play_turn(pb, ["right"])
    x0 = ram.x_progress(mem)
    for _ in range(4):
        play_turn(pb, ["right"])
    walk = (ram.x_progress(mem) - x0) / 20
    for _ in range(3):
        play_turn(pb, ["b", "right"])
    x0 = ram.x_progress(mem)
    for _ in range(4):
        play_turn(pb, ["b", "right"])
    run = (ram.x_progress(mem) - x0) / 20
    assert 0.9 <= walk <= 1.0
    assert 1.75 <= run <= 1.95
    pb.stop(save=False)


def _jump_profile(pb: PyBoy, pre: list[str], pre_turns: int) -> tuple[int, int, int]:
    """Jump on flat ground after ``pre_turns`` turns of ``pre``, holding A+RIGHT
    for a jump turn's 13 press frames then RIGHT: (peak height px, frames in the air, take-off to landing px)."""
    mem = pb.memory
    for _ in range(pre_turns):
        play_turn(pb, pre)
    y0 = mem[ram.PLAYER_Y]
    top, frames, x_takeoff = y0, 0, ram.x_progress(mem)
    pb.button_press("a")
    pb.button_press("right")
    for i in range(80):
        if i == TURN.jump_frames - TURN.release:
            pb.button_release("a")
        x_before = ram.x_progress(mem)
        pb.tick(1, False)
        if not ram.on_ground(mem):
            if frames == 0:
                x_takeoff = x_before
            frames += 1
            top = min(top, mem[ram.PLAYER_Y])
        elif frames:
            break
    pb.button_release("right")
    return y0 - top, frames, ram.x_progress(mem) - x_takeoff


def test_walking_jump_and_running_jump():
    pb = playing_level(2)
    peak, air, dx = _jump_profile(pb, ["right"], 4)
    print("walking jump: peak", peak, "airborne frames", air, "dx", dx)
    assert (peak, air) == (29, 29)  # clears 3-tile (24 px) walls, not 4-tile (32 px) ones
    assert 28 <= dx <= 31  # gaps of 3 tiles need 20 px (see docs/cartridge.md)
    pb.stop(save=False)
    pb = playing_level(2)
    peak, air, dx = _jump_profile(pb, ["b", "right"], 4)
    print("running jump: peak", peak, "airborne frames", air, "dx", dx)
    assert (peak, air) == (39, 35)  # clears 4-tile (32 px) walls, not 5-tile (40 px) ones
    assert 55 <= dx <= 62  # gaps of 5-6 tiles need 36-44 px
    pb.stop(save=False)


# ---- the scripted bot ------------------------------------------------------------


@pytest.mark.parametrize("level", range(4))
def test_bot_finishes_every_level(level, record_property):
    pb = playing_level(level, seed=level)
    mem = pb.memory
    turns = run_bot(pb)
    record_property("bot_turns", turns)
    print(f"level {ram.LEVEL_NAMES[level]}: bot finished in {turns} turns, lives {mem[ram.LIVES]}")
    assert mem[ram.STATE] == ram.STATE_COMPLETE, f"state {mem[ram.STATE]} after {turns} turns"
    assert turns < BOT_TURN_BUDGET
    assert mem[ram.LIVES] == 3  # without losing a life
    assert mem[ram.VBLANK_OVERRUNS] == 0  # v-blank work always fitted: RAM was never torn
    assert bot_decision(mem) == ((), "not playing: wait")
    pb.stop(save=False)


def test_level_complete_moves_on_to_the_next_level():
    pb = playing_level(0)
    mem = pb.memory
    run_bot(pb)
    assert mem[ram.STATE] == ram.STATE_COMPLETE
    for _ in range(200):
        pb.tick(1, False)
        if mem[ram.STATE] != ram.STATE_COMPLETE:
            break
    assert mem[ram.STATE] == ram.STATE_PLAYING
    assert mem[ram.LEVEL] == 1 and mem[ram.LIVES] == 3
    assert ram.x_progress(mem) == ram.LEVEL_START_X
    pb.stop(save=False)


def test_last_level_ends_with_you_win_then_title():
    pb = playing_level(3)
    mem = pb.memory
    run_bot(pb)
    assert mem[ram.STATE] == ram.STATE_COMPLETE
    pb.tick(100, False)
    assert mem[ram.STATE] == ram.STATE_WIN
    pb.tick(250, False)
    assert mem[ram.STATE] == ram.STATE_TITLE
    pb.stop(save=False)


# ---- deaths -------------------------------------------------------------------


def test_walking_into_an_enemy_kills():
    pb = playing_level(0, seed=1)
    mem = pb.memory
    run_bot(pb, stop_when=lambda m: ram.x_progress(m) >= 215 and ram.on_ground(m))
    assert mem[ram.LIVES] == 3
    for _ in range(60):  # the first walker patrols columns 26-45: walk into it
        play_turn(pb, ["right"])
        if mem[ram.STATE] != ram.STATE_PLAYING:
            break
    assert mem[ram.STATE] == ram.STATE_DYING
    assert mem[ram.LIVES] == 2  # decremented at once
    assert mem[ram.DEATH_CAUSE] == ram.CAUSE_ENEMY
    for _ in range(90):  # ~60 frames of dying, then the level restarts
        pb.tick(1, False)
        if mem[ram.STATE] == ram.STATE_PLAYING:
            break
    assert mem[ram.STATE] == ram.STATE_PLAYING
    assert ram.x_progress(mem) == ram.LEVEL_START_X and mem[ram.LIVES] == 2
    pb.stop(save=False)


def test_falling_into_a_pit_kills_and_three_deaths_end_the_game():
    pb = playing_level(3)  # level 4: a 3-tile pit at column 18, flat before it
    mem = pb.memory
    for lives_left in (2, 1, 0):
        for _ in range(60):
            play_turn(pb, ["right"])
            if mem[ram.STATE] != ram.STATE_PLAYING:
                break
        assert mem[ram.STATE] == ram.STATE_DYING
        assert mem[ram.DEATH_CAUSE] == ram.CAUSE_PIT
        assert mem[ram.LIVES] == lives_left
        assert 18 * 8 - 2 <= ram.x_progress(mem) < 21 * 8
        for _ in range(90):
            pb.tick(1, False)
            if mem[ram.STATE] != ram.STATE_DYING:
                break
    assert mem[ram.STATE] == ram.STATE_GAME_OVER
    pb.tick(4, True)
    assert screen(pb)[:, :, :3].std() > 10  # "GAME OVER" is drawn
    pb.button("start")
    for _ in range(30):
        pb.tick(1, False)
        if mem[ram.STATE] == ram.STATE_TITLE:
            break
    assert mem[ram.STATE] == ram.STATE_TITLE
    pb.stop(save=False)


def test_stomping_removes_an_enemy():
    pb = playing_level(2, seed=0)
    mem = pb.memory
    run_bot(pb, stop_when=lambda m: m[ram.STOMPS] > 0)
    assert mem[ram.STOMPS] == 1 and mem[ram.LIVES] == 3
    squashed = [o for o in ram.objects(mem) if o.kind == ram.KIND_SQUASHED]
    assert len(squashed) == 1
    slot = squashed[0].slot
    assert ram.velocity(mem)[1] < 0  # bounced off it
    pb.tick(25, False)
    assert mem[ram.OBJECTS + 4 * slot] == ram.KIND_EMPTY  # gone
    pb.stop(save=False)


# ---- determinism and the seed ----------------------------------------------------


def _record_bot_turns(level: int, seed: int, n: int) -> list[tuple[str, ...]]:
    pb = playing_level(level, seed)
    turns = []
    for _ in range(n):
        buttons = bot_buttons(pb.memory)
        turns.append(buttons)
        play_turn(pb, buttons)
    pb.stop(save=False)
    return turns


def _replay(level: int, seed: int, turns: list[tuple[str, ...]]) -> tuple[bytes, np.ndarray]:
    pb = playing_level(level, seed)
    for i, buttons in enumerate(turns):
        play_turn(pb, buttons, render=i == len(turns) - 1)
    out = ram.snapshot(pb.memory, 0xC000, 0xC100), screen(pb)
    pb.stop(save=False)
    return out


def test_same_seed_same_turns_same_ram_and_screen():
    turns = _record_bot_turns(1, seed=7, n=60)
    ram_a, screen_a = _replay(1, 7, turns)
    ram_b, screen_b = _replay(1, 7, turns)
    assert ram_a == ram_b
    assert np.array_equal(screen_a, screen_b)
    assert screen_a[:, :, :3].std() > 10


def test_different_seeds_change_the_enemies():
    turns = _record_bot_turns(1, seed=0, n=45)
    walkers = set()
    for seed in range(4):
        pb = playing_level(1, seed)
        for buttons in turns:
            play_turn(pb, buttons)
        walkers.add(tuple((o.x, o.vx) for o in ram.objects(pb.memory)))
        pb.stop(save=False)
    assert len(walkers) > 1


def test_ram_describes_the_frame_on_screen():
    """The published player position is where the sprite is drawn, every frame."""
    pb = playing_level(1, seed=3)
    mem = pb.memory
    checked = 0
    for _ in range(40):
        buttons = bot_buttons(mem)
        n = TURN.frames_for(buttons)
        for b in buttons:
            pb.button_press(b)
        for i in range(n):
            if i == n - TURN.release:
                for b in buttons:
                    pb.button_release(b)
            pb.tick(1, True)
            x, y = mem[ram.SCREEN_X], mem[ram.PLAYER_Y]
            # the head's first row is .XX..XX. in black (the bunny's ears); the
            # pixels between the ears show the (never black there) background
            black = screen(pb)[y, x : x + 8, :3].sum(axis=1) == 0
            assert black[[1, 2, 5, 6]].all() and not black[[3, 4]].any()
            checked += 1
    assert checked > 200
    pb.stop(save=False)
