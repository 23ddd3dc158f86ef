"""GameBoyEnv on our own cartridge: Gymnasium conformance, rewards, frame-skip, states, vector envs."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import gb_gym  # noqa: F401  (registers the envs)
from gb_gym.games import hopland_ram as ram

ENV_ID = "GB/Hopland-v0"


@pytest.fixture
def env():
    e = gym.make(ENV_ID, actions="engineered")
    yield e
    e.close()


@pytest.mark.parametrize("kwargs", [{"actions": "original"}, {"actions": "engineered", "obs_type": "grayscale"}, {"actions": "buttons", "level": "3"}])
def test_check_env_passes(kwargs):
    e = gym.make(ENV_ID, **kwargs)
    check_env(e.unwrapped, skip_render_check=False)
    e.close()


def test_make_by_module_path_and_registered_time_limit():
    e = gym.make("gb_gym:GB/Hopland-v0")
    assert e.spec.max_episode_steps == 400
    e.close()
    e = gym.make(ENV_ID, max_episode_steps=3)
    e.reset(seed=0)
    for _ in range(3):
        _, _, term, trunc, _ = e.step(0)
    assert trunc and not term
    e.close()


def test_observation_and_info(env):
    obs, info = env.reset(seed=1)
    assert obs.shape == (144, 160, 3) and obs.dtype == np.uint8
    assert obs.std() > 10  # a drawn screen, not a blank one
    assert info["level"] == "1" and info["lives"] == 3
    assert info["x_progress"] == info["max_x"] > 0
    assert not info["dying"] and not info["level_complete"]


def test_frame_skip_15_with_a_else_5(env):
    env.reset(seed=0)
    _, _, _, _, info = env.step(0)  # RIGHT
    assert info["turn_frames"] == 5 and info["frames"] == 1 + 5
    _, _, _, _, info = env.step(1)  # RIGHT+A
    assert info["turn_frames"] == 15 and info["frames"] == 1 + 5 + 15


def test_reward_is_scaled_delta_x():
    e = gym.make(ENV_ID, actions="engineered", reward_scale=10)
    _, info = e.reset(seed=0)
    total, x0 = 0.0, info["x_progress"]
    for _ in range(6):
        _, r, _, _, info = e.step(0)
        total += r
    assert info["x_progress"] > x0
    assert total == pytest.approx(10 * (info["x_progress"] - x0))
    e.close()


def test_per_frame_reward_divides_by_turn_length():
    e = gym.make(ENV_ID, actions="engineered", reward_per="frame")
    e.reset(seed=0)
    e.step(0)
    x_before = e.unwrapped.game_state.x_progress
    _, r, _, _, info = e.step(1)
    assert r == pytest.approx((info["x_progress"] - x_before) / 15)
    e.close()


def test_same_seed_same_actions_same_everything():
    runs = []
    for _ in range(2):
        e = gym.make(ENV_ID, actions="original")
        obs, _ = e.reset(seed=42)
        rng = np.random.default_rng(0)
        frames, rewards = [obs], []
        for _ in range(40):
            obs, r, term, trunc, _ = e.step(int(rng.integers(22)))
            frames.append(obs)
            rewards.append(r)
            if term or trunc:
                break
        runs.append((np.stack(frames), rewards))
        e.close()
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


def test_different_seeds_differ_in_game_randomness():
    seen = set()
    for seed in range(6):
        e = gym.make(ENV_ID, actions="engineered", level="2")
        e.reset(seed=seed)
        for _ in range(30):
            e.step(0)
        seen.add(bytes(e.unwrapped.pyboy.memory[ram.OBJECTS : ram.OBJECTS + 16]))
        e.close()
    assert len(seen) > 1


def test_buttons_actions_and_error():
    e = gym.make(ENV_ID, actions="buttons")
    e.reset(seed=0)
    _, _, _, _, info = e.step(["right", "a"])
    assert info["buttons"] == ("a", "right") and info["turn_frames"] == 15
    with pytest.raises(ValueError, match="allowed are"):
        e.step(["jump"])
    with pytest.raises(ValueError, match="at most 2"):
        e.step(["right", "a", "b"])
    e.close()


def test_discrete_actions_accept_integers_only_in_range(env):
    env.reset(seed=0)
    for action in (3, np.int64(3), np.array(3), np.uint8(3)):  # SB3 passes NumPy scalars and 0-d arrays
        assert env.step(action)[4]["buttons"] == ("left",)
    for bad in (-1, 8, 1.5, 1.0, True, np.array([1]), np.array(1.0), "1", None):
        with pytest.raises(ValueError, match=r"expected an integer in \[0, 7\] for actions='engineered'"):
            env.step(bad)
    assert env.unwrapped.buttons_of(np.int32(7)) == ("a",)


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="no level '9'; levels are: 1, 2, 3"):
        gym.make(ENV_ID, level="9")
    with pytest.raises(ValueError, match="obs_type='ram'"):
        gym.make(ENV_ID, obs_type="ram")
    with pytest.raises(ValueError, match="release_frames"):
        gym.make(ENV_ID, release_frames=5)


def test_every_level_starts(env):
    for name in ram.LEVEL_NAMES:
        _, info = env.reset(seed=0, options={"level": name})
        assert info["level"] == name and info["lives"] == 3


def test_clone_and_restore_state_replays_exactly(env):
    env.reset(seed=3)
    for _ in range(5):
        env.step(0)
    state = env.unwrapped.clone_state()
    a = [env.step(a)[:2] for a in (1, 0, 0, 2)]
    env.unwrapped.restore_state(state)
    b = [env.step(a)[:2] for a in (1, 0, 0, 2)]
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b, strict=True))
    obs, info = env.reset(options={"state": state})
    assert info["x_progress"] == info["max_x"] > 0


def test_corrupt_state_gets_a_clear_error_and_the_env_keeps_working(env, tmp_path):
    env.reset(seed=0)
    env.step(0)
    good = env.unwrapped.clone_state()
    x = env.unwrapped.game_state.x_progress
    for bad, words in ((b"garbage", "could not load the saved state"), (good[: len(good) // 2], "is corrupt")):
        with pytest.raises(ValueError, match=words):
            env.unwrapped.restore_state(bad)
        assert env.unwrapped.game_state.x_progress == x
    env.step(0)
    (tmp_path / "s.state").write_bytes(good)
    env.unwrapped.restore_state(tmp_path / "s.state")
    with pytest.raises(FileNotFoundError):
        env.unwrapped.restore_state(tmp_path / "none.state")


def test_state_checksum_catches_bit_flips_and_other_games(env, tmp_path):
    from gb_gym.states import MAGIC, pack_state, unpack_state

    env.reset(seed=0)
    for _ in range(4):
        env.step(0)
    state = env.unwrapped.clone_state()
    payload, checked = unpack_state(state, "hopland")
    assert state.startswith(MAGIC) and checked and len(state) == len(payload) + 6 + 32 + 1 + len("hopland")
    x = env.unwrapped.game_state.x_progress
    rng = np.random.default_rng(0)
    for pos in rng.integers(len(state) - len(payload), len(state), size=20):  # 20 single-bit flips in the payload
        flipped = bytearray(state)
        flipped[pos] ^= 1 << int(rng.integers(8))
        with pytest.raises(ValueError, match="is corrupt: its SHA-256 does not match"):
            env.unwrapped.restore_state(bytes(flipped))
    (tmp_path / "bad.state").write_bytes(state[:-1])
    with pytest.raises(ValueError, match=f"state file {tmp_path / 'bad.state'} is corrupt"):
        env.reset(options={"state": tmp_path / "bad.state"})
    with pytest.raises(ValueError, match="saved by the game 'mario', not 'hopland'"):
        env.unwrapped.restore_state(pack_state(payload, "mario"))
    assert env.unwrapped.game_state.x_progress == x  # nothing was loaded
    # a round trip restores the same x; a raw PyBoy state (no header) still loads, unchecked
    env.step(0)
    env.unwrapped.restore_state(state)
    assert env.unwrapped.game_state.x_progress == x
    _, info = env.reset(options={"state": payload})
    assert info["x_progress"] == x


def _held(pb):
    """The buttons the joypad register shows held (probes 0xFF00; only for tests)."""
    held = set()
    for select, names in ((0x20, ("right", "left", "up", "down")), (0x10, ("a", "b", "select", "start"))):
        pb.memory[0xFF00] = select
        held |= {n for bit, n in enumerate(names) if not pb.memory[0xFF00] & (1 << bit)}
    return held


def test_loading_a_state_saved_mid_press_releases_every_button():
    e = gym.make(ENV_ID, actions="buttons")
    e.reset(seed=0)
    pb = e.unwrapped.pyboy
    pb.button_press("right")
    pb.button_press("b")
    pb.tick(1, False)
    assert _held(pb) == {"right", "b"}
    state = e.unwrapped.clone_state()  # saved with right and b held
    e.unwrapped.restore_state(state)
    _, _, _, _, info = e.step([])  # a noop turn
    assert _held(pb) == set() and info["buttons"] == ()
    _, info = e.reset(options={"state": state})
    x = info["x_progress"]
    for _ in range(6):
        _, _, _, _, info = e.step([])
    assert _held(pb) == set()
    assert info["x_progress"] <= x + 6  # momentum only: a held B+RIGHT would run on (about 1.8 px/frame)
    e.close()


def test_async_vector_env():
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(ENV_ID, actions="engineered") for _ in range(2)])
    obs, info = envs.reset(seed=[0, 1])
    assert obs.shape == (2, 144, 160, 3)
    obs, r, term, trunc, info = envs.step(np.array([0, 1]))
    assert r.shape == (2,) and info["turn_frames"].tolist() == [5, 15]
    envs.close()


def test_sb3_subproc_vec_env():
    from stable_baselines3.common.env_checker import check_env as sb3_check
    from stable_baselines3.common.vec_env import SubprocVecEnv

    sb3_check(gym.make(ENV_ID, actions="engineered").unwrapped)
    # worker processes start fresh (forkserver): "gb_gym:" imports the package there
    venv = SubprocVecEnv([lambda: gym.make("gb_gym:" + ENV_ID, actions="engineered") for _ in range(2)])
    obs = venv.reset()
    assert obs.shape == (2, 144, 160, 3)
    obs, r, done, info = venv.step(np.array([0, 0]))
    assert info[0]["x_progress"] > 0
    venv.close()


def test_level_sampler_draws_levels_by_weight_and_reproducibly():
    from gb_gym.wrappers import LevelSampler

    env = LevelSampler(gym.make(ENV_ID, actions="engineered"), ["1", "3"], weights=[3, 1])
    levels = []
    _, info = env.reset(seed=0)
    levels.append(info["level"])
    for _ in range(39):
        levels.append(env.reset()[1]["level"])
    assert 22 <= levels.count("1") <= 38 and levels.count("3") >= 2
    again = [env.reset(seed=0)[1]["level"]] + [env.reset()[1]["level"] for _ in range(39)]
    assert again == levels
    assert env.reset(options={"level": "2"})[1]["level"] == "2"
    with pytest.raises(ValueError, match="non-negative"):
        env.set_weights([1, -1])
    env.close()


def test_render_modes(monkeypatch):
    e = gym.make(ENV_ID, render_mode="rgb_array")
    obs, _ = e.reset(seed=0)
    frame = e.render()
    assert np.array_equal(frame, obs) and frame is not obs
    after, *_ = e.step(0)
    e.close()
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # PyBoy's SDL2 window, without a screen
    e = gym.make(ENV_ID, render_mode="human")
    obs, _ = e.reset(seed=0)
    obs2, r, _, _, info = e.step(0)
    # the window renders every frame but emulates the same ones: same observations, same 1 + 5 frames
    assert np.array_equal(obs, frame) and np.array_equal(obs2, after)
    assert info["frames"] == 6 and info["x_progress"] > 0 and e.render() is None
    e.close()


def test_ram_info_carries_the_scene_and_scripted_decision_of_the_returned_frame():
    e = gym.make(ENV_ID, actions="engineered", ram_info=True)
    spec = e.unwrapped.spec_game
    assert spec.has_scene and spec.has_scripted_player
    _, info = e.reset(seed=2)
    for step in range(3):
        pb = e.unwrapped.pyboy
        assert info["scene"] == spec.scene(pb), step
        assert info["scripted"] == spec.scripted_decision(pb), step
        assert info["scene"].x_progress == info["x_progress"] and info["scene"].lives == 3
        assert info["scripted"][0] == ("b", "right")  # clear ground at the start: run
        _, _, _, _, info = e.step(5)  # RIGHT+B
    e.close()
    e = gym.make(ENV_ID, actions="engineered")
    _, info = e.reset(seed=2)
    assert "scene" not in info and "scripted" not in info
    assert "scene" not in e.step(0)[4]
    e.close()


def test_default_turn_protocol_is_gb_gym_turn():
    from gb_gym.actions import TURN

    e = gym.make(ENV_ID)
    assert e.unwrapped.turn == TURN and e.unwrapped.frame_skip == (5, 15) and e.unwrapped.release_frames == 2
    e.close()
    e = gym.make(ENV_ID, frame_skip=(4, 12), release_frames=1)
    assert (e.unwrapped.turn.frames_for(("a",)), e.unwrapped.turn.frames_for(("b",)), e.unwrapped.turn.release) == (12, 4, 1)
    e.close()


def _episode_start(env, level, state=None):
    """Frames, RAM (0xC000-0xDFFF) and rewards of a reset and 4 turns."""
    opts = {"state": state} if state is not None else {"level": level}
    obs, _ = env.reset(seed=11, options=opts)
    frames, rewards = [obs], []
    for a in (0, 1, 5, 0):
        obs, r, *_ = env.step(a)
        frames.append(obs)
        rewards.append(r)
    return np.stack(frames), bytes(env.unwrapped.pyboy.memory[0xC000:0xE000]), rewards


@pytest.mark.parametrize("level", ram.LEVEL_NAMES)
def test_a_fresh_envs_first_reset_equals_a_used_envs_reset(level):
    used = gym.make(ENV_ID, actions="engineered")
    used.reset(seed=0, options={"level": "1"})  # an earlier episode, on another level
    used.step(1)
    a = _episode_start(used, level)
    state = used.unwrapped.clone_state()
    fresh = gym.make(ENV_ID, actions="engineered")
    b = _episode_start(fresh, level)
    fresh.close()
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]
    assert a[0][0, 136:].std() > 10  # the HUD rows, where a fresh PyBoy used to draw one line off
    # the same from a saved state: its first rendered frame is the first step's
    fresh = gym.make(ENV_ID, actions="engineered")
    c, d = _episode_start(used, level, state), _episode_start(fresh, level, state)
    assert np.array_equal(c[0], d[0]) and c[1] == d[1] and c[2] == d[2]
    used.close()
    fresh.close()
