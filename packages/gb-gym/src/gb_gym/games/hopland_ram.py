"""Hopland's RAM map: the single source of truth for Python code.

The cartridge (packages/gb-gym/cart) publishes these bytes during v-blank, so
they are consistent whenever PyBoy's ``tick()`` returns, and they describe the
frame that is on screen at that moment. docs/cartridge.md has the full table.

Every helper takes any ``mem`` with ``mem[addr] -> int`` for absolute
addresses (``pyboy.memory``, or a dict / fake memory in tests).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class Memory(Protocol):
    def __getitem__(self, addr: int) -> int: ...


# ---- addresses ------------------------------------------------------------
MAGIC = 0xC000  # 0x48 ('H') once the cartridge has initialised
STATE = 0xC001  # one of the STATE_* values
LEVEL = 0xC002  # level index, 0-based; host-writable on the title screen
LIVES = 0xC003
X_PROGRESS = 0xC004  # 2 bytes LE: player world x in px (left edge)
PLAYER_Y = 0xC006  # screen y of the top of the 8x16 player sprite
PLAYER_FLAGS = 0xC007  # FLAG_* bits
PLAYER_VX = 0xC008  # signed, 1/16 px per frame
PLAYER_VY = 0xC009  # signed, 1/16 px per frame (negative = up)
LEVEL_END = 0xC00A  # 2 bytes LE: x-progress that completes the level
CAMERA_X = 0xC00C  # 2 bytes LE: world x of the screen's left edge
FRAME = 0xC00E  # frame counter, wraps at 256
DEATH_CAUSE = 0xC00F  # CAUSE_* of the last death
SEED = 0xC010  # 2 bytes LE: RNG seed; host-writable on the title screen
OBJECTS = 0xC020  # 4 slots x [kind, x lo, x hi, y]
TERRAIN_AHEAD = 0xC030  # 16 bytes: ground height (tiles) of the 16 columns from x/8; 0 = pit
GROUND_HEIGHT = 0xC040  # ground height (tiles) under the player's feet; 0 = over a pit
TIMER = 0xC041  # frames left in dying / level complete / game over / you win
STOMPS = 0xC042  # enemies stomped since the level (re)started
NUM_LEVELS = 0xC043
RNG_STATE = 0xC044  # 2 bytes LE: xorshift16 state
VBLANK_OVERRUNS = 0xC046  # debug: v-blank work that ran past v-blank (stays 0)
SCREEN_X = 0xC047  # player x on screen (px)
LEVEL_LENGTH = 0xC048  # 2 bytes LE: level length in px
OBJECT_VX = 0xC04A  # 4 bytes: signed speed of each slot's walker, 1/16 px per frame
RAM_VERSION = 0xC04E
SUBPIXELS = 0xC04F  # player sub-pixel fractions (1/16 px): x in bits 0-3, y in bits 4-7
OBJECT_SUBPX = 0xC050  # 4 bytes: x sub-pixel fraction (0..15) of each slot
TERRAIN_BEHIND = 0xC058  # 8 bytes: ground height of the 8 columns left of x/8 (oldest first)

MAGIC_VALUE = 0x48
RAM_VERSION_VALUE = 1

# ---- values ---------------------------------------------------------------
STATE_TITLE = 0
STATE_PLAYING = 1
STATE_DYING = 2
STATE_COMPLETE = 3
STATE_GAME_OVER = 4
STATE_WIN = 5  # "YOU WIN" screen after the last level

FLAG_ON_GROUND = 0x01
FLAG_FACING_LEFT = 0x02
FLAG_RUNNING = 0x04  # B held

CAUSE_NONE = 0
CAUSE_ENEMY = 1
CAUSE_PIT = 2

KIND_EMPTY = 0
KIND_WALKER = 1
KIND_SQUASHED = 2  # a stomped walker, harmless, gone after 20 frames

N_OBJECT_SLOTS = 4
N_TERRAIN_AHEAD = 16
N_TERRAIN_BEHIND = 8

LEVEL_NAMES = ("1", "2", "3", "4")

# ---- geometry and physics (cartridge constants, cart/main.c; docs/cartridge.md)
TILE = 8  # px per terrain column / tile
LEVEL_START_X = 16  # x-progress at the start of every level
GROUND_BOTTOM = 136  # screen y of the playfield bottom (the HUD row starts here)
PLAYER_W, PLAYER_H = 8, 16
ENEMY_W, ENEMY_H = 8, 8
CAMERA_LEAD = 64  # the camera scrolls to keep the player within 64 px of the left edge
PIT_DEATH_Y = 128  # the player dies when PLAYER_Y > 128 (feet below the screen)
START_LIVES = 3
# speeds in 1/16 px per frame, accelerations in 1/16 px per frame per frame
SUBPX = 16
WALK_MAX = 16  # 1 px/frame
RUN_MAX = 30  # 1.875 px/frame, B held
WALK_ACCEL = 4  # while a direction is held, below WALK_MAX
RUN_ACCEL = 3  # above WALK_MAX with B held
FRICTION = 1  # on the ground with no direction held (and when above the target speed)
TURN_DECEL = 4  # on the ground, pushing against the motion
AIR_DECEL = 2  # in the air, pushing against the motion (no friction in the air)
GRAVITY = 4
MAX_FALL = 64
WALK_JUMP_VY = 58  # take-off speed of a walking jump (peak 29 px)
RUN_JUMP_VY = 68  # take-off speed of a running jump (peak 39 px)
RUN_JUMP_MIN_VX = 24  # |vx| at take-off that gives the running jump
STOMP_BOUNCE_VY = 40


def u16(mem: Memory, addr: int) -> int:
    return mem[addr] | (mem[addr + 1] << 8)


def s8(value: int) -> int:
    return value - 256 if value >= 128 else value


def x_progress(mem: Memory) -> int:
    """Player world x in px (left edge of the sprite)."""
    return u16(mem, X_PROGRESS)


def level_end(mem: Memory) -> int:
    """The x-progress at which the level is complete."""
    return u16(mem, LEVEL_END)


def camera_x(mem: Memory) -> int:
    return u16(mem, CAMERA_X)


def seed(mem: Memory) -> int:
    return u16(mem, SEED)


def state(mem: Memory) -> int:
    return mem[STATE]


def on_ground(mem: Memory) -> bool:
    return bool(mem[PLAYER_FLAGS] & FLAG_ON_GROUND)


def velocity(mem: Memory) -> tuple[int, int]:
    """(vx, vy) in 1/16 px per frame; vy < 0 is upwards."""
    return s8(mem[PLAYER_VX]), s8(mem[PLAYER_VY])


def ground_top_y(height: int) -> int | None:
    """Screen y of the surface of a column of the given height; None for a pit."""
    return GROUND_BOTTOM - TILE * height if height > 0 else None


class GameObject(NamedTuple):
    slot: int
    kind: int
    x: int  # world px, left edge
    y: int  # screen px, top edge
    vx: int  # 1/16 px per frame, signed (0 unless a walker)
    sub: int  # x sub-pixel fraction, 1/16 px


def objects(mem: Memory) -> list[GameObject]:
    """Every non-empty object slot (walkers and squashed walkers)."""
    out = []
    for slot in range(N_OBJECT_SLOTS):
        base = OBJECTS + 4 * slot
        kind = mem[base]
        if kind != KIND_EMPTY:
            x = mem[base + 1] | (mem[base + 2] << 8)
            out.append(GameObject(slot, kind, x, mem[base + 3], s8(mem[OBJECT_VX + slot]), mem[OBJECT_SUBPX + slot]))
    return out


def enemies(mem: Memory) -> list[tuple[int, int]]:
    """(world x, screen y) of every live (dangerous) walker."""
    return [(o.x, o.y) for o in objects(mem) if o.kind == KIND_WALKER]


def terrain_ahead(mem: Memory) -> list[int]:
    """Ground height in tiles of the 16 columns starting at the player's column (x // 8); 0 = pit."""
    return [mem[TERRAIN_AHEAD + i] for i in range(N_TERRAIN_AHEAD)]


def terrain_behind(mem: Memory) -> list[int]:
    """Ground height of the 8 columns x // 8 - 8 .. x // 8 - 1 (0 = pit)."""
    return [mem[TERRAIN_BEHIND + i] for i in range(N_TERRAIN_BEHIND)]


def snapshot(mem: Memory, start: int = 0xC000, end: int = 0xC060) -> bytes:
    """The published RAM map as bytes (for determinism checks)."""
    return bytes(mem[a] for a in range(start, end))
