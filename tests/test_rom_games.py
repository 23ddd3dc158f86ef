"""Kirby and Mario on the real games. Each test skips, with the reason, unless you imported the ROM
(`gb-gym roms import DIR`): commercial ROMs are never part of this repository or its CI."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import gb_gym
from gb_gym.roms import RomError, find_rom

GAMES = ["mario", "kirby"]


def _env_or_skip(game, **kwargs):
    spec = gb_gym.get_spec(game)
    try:
        find_rom(spec)
    except RomError as e:
        pytest.skip(f"{spec.display_name} ROM not imported ({e.__class__.__name__}); run: gb-gym roms import DIR")
    return gym.make(spec.env_id, **kwargs)


@pytest.mark.rom
@pytest.mark.parametrize("game", GAMES)
def test_check_env_on_the_real_game(game):
    env = _env_or_skip(game, actions="engineered")
    check_env(env.unwrapped)
    env.close()


@pytest.mark.rom
@pytest.mark.parametrize("game", GAMES)
def test_holding_right_makes_progress_and_rewards_it(game):
    env = _env_or_skip(game, actions="buttons", reward_scale=10)
    _, info = env.reset(seed=0)
    x0, total = info["x_progress"], 0.0
    for _ in range(20):
        _, r, term, trunc, info = env.step(["right"])
        total += r
        if term or trunc:
            break
    assert info["max_x"] > x0 + 20, f"x-progress barely moved ({x0} -> {info['max_x']}): check the RAM formula"
    assert total > 0 and info["lives"] >= 1
    env.close()


@pytest.mark.rom
@pytest.mark.parametrize("game", GAMES)
def test_seeded_runs_repeat(game):
    frames = []
    for _ in range(2):
        env = _env_or_skip(game, actions="original")
        obs, _ = env.reset(seed=7)
        rng = np.random.default_rng(0)
        for _ in range(30):
            obs, *_ = env.step(int(rng.integers(22)))
        frames.append(obs)
        env.close()
    assert np.array_equal(frames[0], frames[1])


@pytest.mark.rom
def test_mario_levels_start_where_asked():
    env = _env_or_skip("mario", actions="engineered")
    for level in ("1-1", "2-2", "4-3"):
        _, info = env.reset(seed=0, options={"level": level})
        assert info["level"] == level
    env.close()


@pytest.mark.rom
@pytest.mark.parametrize("game", GAMES)
def test_the_ram_teachers_scene_and_rule_player_on_the_real_game(game):
    """The game-area scene (never run on the real games where it was written): after a few idle turns at the
    level start the player stands on ground that the terrain shows, and the rule player makes progress."""
    env = _env_or_skip(game, actions="buttons", ram_info=True)
    _, info = env.reset(seed=0)
    for _ in range(10):
        _, _, term, trunc, info = env.step(["noop"])
        assert not (term or trunc)
    scene = info["scene"]
    assert scene.on_ground, f"standing at the level start, the scene says in the air: {scene}"
    assert scene.terrain and scene.terrain[0] > 0, f"no ground under the player in the scene's terrain: {scene}"
    x0 = info["x_progress"]
    for _ in range(40):
        buttons, reason = info["scripted"]
        assert reason, info["scripted"]
        _, _, term, trunc, info = env.step(list(buttons) or ["noop"])
        if term or trunc:
            break
    assert info["max_x"] > x0 + 50, f"the rule player barely moved ({x0} -> {info['max_x']})"
    env.close()
