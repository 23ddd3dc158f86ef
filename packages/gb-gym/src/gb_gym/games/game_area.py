"""Reading PyBoy's `game_area()` tile matrix: terrain ahead, enemies and stance, for a `Scene`; and a rule
player on that `Scene`.

Games without a published RAM map for terrain and objects (Super Mario Land, Kirby's Dream Land) are read
from the tile matrix that PyBoy's game wrappers give (`pyboy.game_wrapper.game_area()`: one tile id per
8x8 cell of the play area, sprites drawn over the background). Each game turns its tile ids into the
`Kind`s below; everything after that is shared and pure, so it is tested on hand-made matrices.

`terrain` follows `Scene`: one ground height in tiles per column, from the player's (left) column onward,
0 for a pit. A column's height is the top of the first solid cell at or below the player's top row, and of
the solid cells stacked on it: a block floating over the player's head does not count, a wall does.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..spec import Enemy, Scene

TILE = 8  # px per cell
EMPTY, SOLID, ENEMY, PLAYER = 0, 1, 2, 3  # the kinds of cell
TERRAIN_COLUMNS = 16  # columns of terrain from the player's, where the screen has them (as Hopland's RAM)
REACH = 4  # the rule player jumps at trouble this many columns or fewer ahead: vlm_rl.perception's "near"

Buttons = tuple[str, ...]
JUMP: Buttons = ("a", "right")
HOLD_RIGHT: Buttons = ("right",)
NOOP: Buttons = ()


class Box(NamedTuple):
    """The player's cells: columns col..col_end, rows row..row_end (inclusive) of the matrix."""

    col: int
    row: int
    col_end: int
    row_end: int


def find_player(kinds: np.ndarray) -> Box | None:
    """The bounding box of the PLAYER cells, None if none are on screen."""
    rows, cols = np.nonzero(kinds == PLAYER)
    if not len(rows):
        return None
    return Box(int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max()))


def column_height(solid: np.ndarray, col: int, top_row: int) -> int:
    """Ground height in cells of one column, as the player whose top is on `top_row` meets it; 0 = pit."""
    rows = solid.shape[0]
    below = np.nonzero(solid[max(top_row, 0):, col])[0]
    if not len(below):
        return 0
    top = max(top_row, 0) + int(below[0])
    while top > 0 and solid[top - 1, col]:  # a wall: climb to its top
        top -= 1
    return rows - top


def terrain_ahead(kinds: np.ndarray, player: Box, n: int = TERRAIN_COLUMNS) -> tuple[int, ...]:
    """Heights of the columns from the player's left one onward (as many of `n` as the screen shows)."""
    solid = kinds == SOLID
    last = min(player.col + n, kinds.shape[1])
    return tuple(column_height(solid, c, player.row) for c in range(player.col, last))


def _groups(mask: np.ndarray) -> list[tuple[int, int]]:
    """The top-left (row, col) of each group of touching True cells (4-neighbours)."""
    seen = np.zeros_like(mask, dtype=bool)
    out = []
    for r, c in np.argwhere(mask):
        if seen[r, c]:
            continue
        stack, cells = [(r, c)], []
        seen[r, c] = True
        while stack:
            y, x = stack.pop()
            cells.append((y, x))
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        out.append((int(min(y for y, _ in cells)), int(min(x for _, x in cells))))
    return out


def enemies(kinds: np.ndarray, player: Box) -> tuple[Enemy, ...]:
    """Each group of touching ENEMY cells, as px from the player's top-left cell to the group's, nearest first."""
    out = [Enemy(dx=(c - player.col) * TILE, dy=(r - player.row) * TILE) for r, c in _groups(kinds == ENEMY)]
    return tuple(sorted(out, key=lambda e: (abs(e.dx), e.dy)))


def on_ground(kinds: np.ndarray, player: Box) -> bool:
    """A solid cell right under one of the player's columns."""
    below = player.row_end + 1
    return below < kinds.shape[0] and bool((kinds[below, player.col : player.col_end + 1] == SOLID).any())


class AreaFacts(NamedTuple):
    terrain: tuple[int, ...]
    enemies: tuple[Enemy, ...]
    on_ground: bool
    player_y: int  # px from the top of the matrix to the player's top


def area_facts(kinds: np.ndarray, player: Box) -> AreaFacts:
    """Everything a `Scene` takes from the tile matrix, for the player at `player`."""
    if kinds.ndim != 2:
        raise ValueError(f"expected a 2-D game area (rows x columns), got shape {kinds.shape}")
    return AreaFacts(terrain_ahead(kinds, player), enemies(kinds, player), on_ground(kinds, player),
                     player.row * TILE)


def _trouble(scene: Scene) -> tuple[int, str] | None:
    """The nearest trouble ahead within REACH columns: (columns ahead, words)."""
    found = []
    terrain = scene.terrain or ()
    here = terrain[0] if terrain else 0
    for i in range(1, min(len(terrain), REACH + 1)):
        if terrain[i] == 0:
            found.append((i, f"pit {i} tile{'s' if i > 1 else ''} ahead"))
            break
        if terrain[i] > here:
            found.append((i, f"{terrain[i] - here}-tile wall {i} tile{'s' if i > 1 else ''} ahead"))
            break
        here = terrain[i]
    ahead = [e for e in scene.enemies if e.dx >= 0 and e.dx // TILE <= REACH]
    if ahead:
        e = min(ahead, key=lambda e: e.dx)
        found.append((e.dx // TILE, f"{e.kind} {e.dx} px ahead"))
    return min(found) if found else None


def rule_decision(scene: Scene, run: Buttons) -> tuple[Buttons, str]:
    """A simple rule player: in the air hold right; on the ground jump right (A+RIGHT) when a pit, a wall
    or an enemy is within REACH columns ahead, else `run` right."""
    if not scene.on_ground:
        return HOLD_RIGHT, "in the air: keep holding right"
    trouble = _trouble(scene)
    if trouble is not None:
        return JUMP, f"{trouble[1]}: jump right"
    return run, "clear ground: run right"
