"""The Mario and Kirby `Scene`s read from PyBoy's `game_area()`, and their rule players, on hand-made tile
matrices (the real games are in tests/test_rom_games.py, when the ROMs are there).

Matrices are drawn as text, bottom-aligned in the 16x20 play area (rows above the drawing are empty).
"""

import numpy as np
import pytest

from gb_gym import get_spec
from gb_gym.games import game_area as ga
from gb_gym.games import kirby, mario
from gb_gym.spec import Enemy, Scene
from gb_gym.testing import FakeGameBoy

MARIO_TILES = {".": 300, "#": 352, "M": 0, "g": 144, "?": 129, "c": 244, "h": 310}  # h: a hill, scenery
KIRBY_TILES = {".": 383, "#": 331, "=": 328, "K": 2, "e": 100, "t": 324, "w": 272}  # t tree, w grass: scenery


def draw(picture: str, tiles: dict[str, int], empty: str = ".") -> np.ndarray:
    rows = [r.strip() for r in picture.strip().splitlines()]
    assert all(len(r) == 20 for r in rows), "draw 20 columns"
    rows = [empty * 20] * (16 - len(rows)) + rows
    return np.array([[tiles[ch] for ch in r] for r in rows], np.uint32)


def mario_gb(picture: str, ram: dict[int, int] | None = None) -> FakeGameBoy:
    gb = FakeGameBoy().poke({mario.WORLD_LEVEL: 0x11, mario.LIVES: 0x02, **(ram or {})})
    gb.game_wrapper.area = draw(picture, MARIO_TILES)
    return gb


def kirby_gb(picture: str) -> FakeGameBoy:
    area = draw(picture, KIRBY_TILES)
    row, col = (int(v.min()) for v in np.nonzero(area == KIRBY_TILES["K"]))
    gb = FakeGameBoy().poke({kirby.KIRBY_X: col * 8, kirby.KIRBY_Y: row * 8, kirby.HEALTH: 6, kirby.LIVES_PLUS_ONE: 5})
    gb.game_wrapper.area = area
    return gb


GROUND = "####################\n" * 2

# name: (picture, terrain, enemies, on_ground, scripted answer, perception facts)
MARIO_CASES = {
    "clear ground": (
        "...........?.c......\n....................\n....MM..............\n....MM..............\n" + GROUND,
        (2,) * 16, (), True, (("b", "right"), "clear ground: run right"),
        {"stance": "ground", "hazard": "no hazard", "enemy": "no enemy"},
    ),
    "pit near": (
        "....MM..............\n....MM..............\n" + "#######..###########\n" * 2,
        (2, 2, 2, 0, 0) + (2,) * 11, (), True, (("a", "right"), "pit 3 tiles ahead: jump right"),
        {"stance": "ground", "hazard": "pit near", "enemy": "no enemy"},
    ),
    "wide pit further on": (
        "....MM..............\n....MM..............\n" + "##########.....#####\n" * 2,
        (2,) * 6 + (0,) * 5 + (2,) * 5, (), True, (("b", "right"), "clear ground: run right"),
        {"stance": "ground", "hazard": "wide pit ahead", "enemy": "no enemy"},
    ),
    "wall near": (
        "........##..........\n....MM..##..........\n....MM..##..........\n" + GROUND,
        (2,) * 4 + (5, 5) + (2,) * 10, (), True, (("a", "right"), "3-tile wall 4 tiles ahead: jump right"),
        {"stance": "ground", "hazard": "wall near", "enemy": "no enemy"},
    ),
    "high wall ahead": (
        "..........#.........\n" * 5 + "....MM....#.........\n" * 2 + GROUND,
        (2,) * 6 + (9,) + (2,) * 9, (), True, (("b", "right"), "clear ground: run right"),
        {"stance": "ground", "hazard": "high wall ahead", "enemy": "no enemy"},
    ),
    "enemy near": (
        "....MM..............\n....MM.g............\n" + GROUND,
        (2,) * 16, (Enemy(dx=24, dy=8),), True, (("a", "right"), "enemy 24 px ahead: jump right"),
        {"stance": "ground", "hazard": "no hazard", "enemy": "enemy near"},
    ),
    "enemy just out of reach": (
        "....MM..............\n....MM...g..........\n" + GROUND,
        (2,) * 16, (Enemy(dx=40, dy=8),), True, (("b", "right"), "clear ground: run right"),
        {"stance": "ground", "hazard": "no hazard", "enemy": "enemy ahead"},
    ),
    "in the air over a pit": (
        "....MM..............\n....MM..............\n....................\n" + "##.......###########\n" * 2,
        (0, 0, 0, 0, 0) + (2,) * 11, (), False, (("right",), "in the air: keep holding right"),
        {"stance": "air", "hazard": "wide pit near", "enemy": "no enemy"},
    ),
    "on a floating block, a goomba behind": (
        "....MM..............\n....MM..............\n.g..##..............\n....................\n" + GROUND,
        (4, 4, 2, 2) + (2,) * 12, (Enemy(dx=-24, dy=16),), True, (("b", "right"), "clear ground: run right"),
        {"stance": "ground", "hazard": "no hazard", "enemy": "no enemy"},
    ),
}


@pytest.mark.parametrize("case", MARIO_CASES)
def test_mario_scene_and_rule_player(case):
    picture, terrain, enemies, on_ground, decision, _ = MARIO_CASES[case]
    gb = mario_gb(picture)
    scene = get_spec("mario").scene(gb)
    assert (scene.terrain, scene.enemies, scene.on_ground) == (terrain, enemies, on_ground)
    assert (scene.game, scene.level, scene.lives) == ("mario", "1-1", 2)
    assert get_spec("mario").scripted_decision(gb) == decision


KIRBY_CASES = {
    "clear ground, trees and grass are scenery": (
        "..t.................\n..t...K.............\n..t..wKww...........\n" + GROUND,
        (2,) * 14, (), True, (("right",), "clear ground: run right"),
        {"stance": "ground", "hazard": "no hazard", "enemy": "no enemy"},
    ),
    "pit near": (
        "......K.............\n......K.............\n" + "##########...#######\n" + "==========...=======\n",
        (2,) * 4 + (0,) * 3 + (2,) * 7, (), True, (("a", "right"), "pit 4 tiles ahead: jump right"),
        {"stance": "ground", "hazard": "pit near", "enemy": "no enemy"},
    ),
    "step up near": (
        "......K...##########\n......K...==========\n" + GROUND,
        (2,) * 4 + (4,) * 10, (), True, (("a", "right"), "2-tile wall 4 tiles ahead: jump right"),
        {"stance": "ground", "hazard": "wall near", "enemy": "no enemy"},
    ),
    "enemy near, its own sprite is Kirby": (
        "......K.ee..........\n......K.ee..........\n" + GROUND,
        (2,) * 14, (Enemy(dx=16, dy=0),), True, (("a", "right"), "enemy 16 px ahead: jump right"),
        {"stance": "ground", "hazard": "no hazard", "enemy": "enemy near"},
    ),
    "floating": (
        "......K.............\n......K.............\n....................\n....................\n" + GROUND,
        (2,) * 14, (), False, (("right",), "in the air: keep holding right"),
        {"stance": "air", "hazard": "no hazard", "enemy": "no enemy"},
    ),
}


@pytest.mark.parametrize("case", KIRBY_CASES)
def test_kirby_scene_and_rule_player(case):
    picture, terrain, enemies, on_ground, decision, _ = KIRBY_CASES[case]
    gb = kirby_gb(picture)
    scene = get_spec("kirby").scene(gb)
    assert (scene.terrain, scene.enemies, scene.on_ground) == (terrain, enemies, on_ground)
    assert (scene.game, scene.lives) == ("kirby", 4)
    assert get_spec("kirby").scripted_decision(gb) == decision


CASES = [("mario", mario_gb, c, MARIO_CASES[c]) for c in MARIO_CASES] + [
    ("kirby", kirby_gb, c, KIRBY_CASES[c]) for c in KIRBY_CASES]


@pytest.mark.parametrize(("game", "make", "case", "want"), CASES, ids=[f"{g}: {c}" for g, _, c, _ in CASES])
def test_the_scenes_speak_the_perception_vocabulary(game, make, case, want):
    perception = pytest.importorskip("vlm_rl.perception", reason="the perception vocabulary is vlm-rl's")
    facts = perception.scene_facts(get_spec(game).scene(make(want[0])))
    assert facts == want[5]
    # the rule player jumps exactly when perception calls something near, so the RAM teacher's
    # reasoning ("pit near: jump right", "clear: run right") never contradicts itself
    near = facts["stance"] == "ground" and (facts["hazard"].endswith("near") or facts["enemy"] == "enemy near")
    assert (want[4][0] == ("a", "right")) == near


def test_both_games_have_a_ram_teacher():
    for game in ("mario", "kirby"):
        assert get_spec(game).has_scene and get_spec(game).has_scripted_player


def test_mario_off_screen_or_dying_waits():
    gb = mario_gb(GROUND)
    scene = get_spec("mario").scene(gb)
    assert scene.terrain is None and scene.enemies == () and not scene.on_ground
    assert get_spec("mario").scripted_decision(gb) == ((), "Mario is not on screen: wait")
    gb = mario_gb(MARIO_CASES["pit near"][0], {mario.DEATH_TIMER: 0x90})
    assert get_spec("mario").scripted_decision(gb) == ((), "not playing: wait")


def test_a_mapped_game_area_is_refused_with_the_fix():
    gb = mario_gb(GROUND)
    gb.game_wrapper.area[0, 0] = 1000
    with pytest.raises(ValueError, match="default mapping"):
        get_spec("mario").scene(gb)


# PyBoy's documented frames (the game wrappers' docstrings), as game_area() prints them: Mario standing at
# the start of 1-1 (a pipe behind him, a ?-block over his head, hills); Kirby in Green Greens.
PYBOY_MARIO = """
339 339 339 339 339 339 339 339 339 339 339 339 339 339 339 339 339 339 339 339
320 320 320 320 320 320 320 320 320 320 320 320 320 320 320 320 320 320 320 320
300 300 300 300 300 300 300 300 300 300 300 300 321 322 321 322 323 300 300 300
300 300 300 300 300 300 300 300 300 300 300 324 325 326 325 326 327 300 300 300
300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300
300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300
300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300 300
300 300 300 300 300 300 300 300 310 350 300 300 300 300 300 300 300 300 300 300
300 300 300 300 300 300 300 310 300 300 350 300 300 300 300 300 300 300 300 300
300 300 300 300 300 129 310 300 300 300 300 350 300 300 300 300 300 300 300 300
300 300 300 300 300 310 300 300 300 300 300 300 350 300 300 300 300 300 300 300
300 300 310 350 310 300 300 300 300 306 307 300 300 350 300 300 300 300 300 300
300 368 369 300   0   1 300 306 307 305 300 300 300 300 350 300 300 300 300 300
310 370 371 300  16  17 300 305 300 305 300 300 300 300 300 350 300 300 300 300
352 352 352 352 352 352 352 352 352 352 352 352 352 352 352 352 352 352 352 352
353 353 353 353 353 353 353 353 353 353 353 353 353 353 353 353 353 353 353 353
"""
PYBOY_KIRBY = """
383 383 383 301 383 383 383 297 383 383 383 301 383 383 383 297 383 383 383 293
383 383 383 383 300 294 295 296 383 383 383 383 300 294 295 296 383 383 299 383
311 318 319 320 383 383 383 383 383 383 383 383 383 383 383 383 383 301 383 383
383 383 383 321 322 383 383 383 383 383 383 383 383 383 383 383 383 383 300 294
383 383 383 383 323 290 291 383 383 383 313 312 311 318 319 320 383 290 291 383
383 383 383 383 324 383 383 383 383 315 314 383 383 383 383 321 322 383 383 383
383 383 383 383 324 293 292 383 383 316 383 383 383 383 383 383 323 383 383 383
383 383 383 383 324 383 383 298 383 317 383 383 383 383 383 383 324 383 383 383
319 320 383 383 324 383 383 297 383 317 383 383 383 152 140 383 324 383 383 307
383 321 322 383 324 294 295 296 383 325 383 383 383 383 383 383 326 272 274 309
383 383 323 383 326 383 383 383   2  18 383 330 331 331 331 331 331 331 331 331
274 383 324 272 274 272 274 272 274 272 274 334 328 328 328 328 328 328 328 328
331 331 331 331 331 331 331 331 331 331 331 328 328 328 328 328 328 328 328 328
328 328 328 277 278 328 328 328 328 328 328 328 328 277 278 328 328 277 278 277
328 277 278 279 281 277 278 328 328 277 278 277 278 279 281 277 278 279 281 279
278 279 281 280 282 279 281 277 278 279 281 279 281 280 282 279 281 280 282 280
"""


def _matrix(text: str) -> np.ndarray:
    return np.array([[int(v) for v in line.split()] for line in text.strip().splitlines()], np.uint32)


def test_pyboys_documented_mario_frame_reads_as_clear_ground():
    gb = FakeGameBoy().poke({mario.WORLD_LEVEL: 0x11})
    gb.game_wrapper.area = _matrix(PYBOY_MARIO)
    scene = get_spec("mario").scene(gb)
    # the pipe is behind Mario, the ?-block over his head, the hills are scenery
    assert scene.terrain == (2,) * 16 and scene.on_ground and scene.enemies == ()
    assert scene.player_y == mario.AREA_TOP + 12 * 8
    assert get_spec("mario").scripted_decision(gb) == (("b", "right"), "clear ground: run right")


def test_pyboys_documented_kirby_frame_has_a_step_up_and_an_enemy():
    # Kirby's sprite (2, 18) is at row 10, columns 8-9: put him there in RAM; his lower half is not drawn
    facts = kirby.area_facts(_matrix(PYBOY_KIRBY), x=8 * 8, y=10 * 8)
    assert facts.on_ground  # on the grass top (331) of row 12
    assert facts.terrain == (4, 4, 4) + (6,) * 9  # the ground steps up 2 tiles at column 11
    assert facts.enemies == (Enemy(dx=40, dy=-16),)  # the sprite 152/140 floating at columns 13-14
    scene = Scene(game="kirby", level="1", lives=4, x_progress=0, player_y=80, on_ground=facts.on_ground,
                  enemies=facts.enemies, terrain=facts.terrain)
    assert ga.rule_decision(scene, kirby.RUN) == (("a", "right"), "2-tile wall 3 tiles ahead: jump right")


def test_column_height_skips_blocks_over_the_head_and_climbs_walls():
    solid = np.zeros((6, 3), bool)
    solid[4:, :] = True  # ground, 2 high
    solid[0, 0] = True  # a block high up, over the head
    solid[1:4, 2] = True  # a wall on the ground, 5 high in all
    assert ga.column_height(solid, 0, top_row=2) == 2
    assert ga.column_height(solid, 2, top_row=2) == 5
    solid[:, 1] = False
    assert ga.column_height(solid, 1, top_row=2) == 0  # a pit
