"""Rewards and episode ends on synthetic game states: `turn_outcome` directly, and one env driven by a
fake spec whose `read` plays back a script of states (no emulator)."""

import pytest

from gb_gym.env import GameBoyEnv
from gb_gym.games.hopland import Hopland
from gb_gym.outcome import turn_outcome
from gb_gym.spec import GameSpec, GameState
from gb_gym.testing import FakeGameBoy


def S(x, lives=3, dying=False, game_over=False, complete=False, level="1"):
    return GameState(x_progress=x, level=level, lives=lives, dying=dying, game_over=game_over, level_complete=complete)


def play(states, frames=5, **kw):
    """Rewards and terminations of turns from states[0] through the rest, carrying x_base and in_death."""
    x_base, in_death, out = states[0].x_progress, states[0].dying, []
    for prev, now in zip(states[:-1], states[1:], strict=True):
        o = turn_outcome(prev, now, x_base=x_base, in_death=in_death, frames=frames, **kw)
        x_base, in_death = o.x_base, o.in_death
        out.append((o.reward, o.terminated))
    return out


def test_progress_is_scaled_delta_x_per_turn_or_per_frame():
    assert play([S(10), S(25)], reward_scale=10) == [(150.0, False)]
    assert play([S(10), S(25)], frames=15, reward_scale=10, reward_per="frame") == [(10.0, False)]
    assert play([S(10), S(25)], frames=5, reward_per="frame") == [(3.0, False)]
    assert play([S(40), S(31)]) == [(-9.0, False)]  # walking back costs


def test_death_turn_pays_the_penalty_and_no_progress():
    # x moved +8 on the turn the player died: not paid
    assert play([S(100), S(108, lives=2, dying=True)], death_penalty=5) == [(-5.0, True)]
    assert play([S(100), S(108, lives=2, dying=True)], death_penalty=5, terminate_on="game_over") == [(-5.0, False)]
    assert play([S(100), S(108, lives=2, dying=True)]) == [(0.0, True)]  # the paper's penalty: 0


def test_dying_flag_before_lives_drop_is_charged_once_and_respawn_pays_nothing():
    states = [
        S(100),
        S(104, dying=True),  # the flag first: -5
        S(104, dying=True),
        S(104, lives=2, dying=True),  # lives drop later in the same death: 0 (was a second -5)
        S(16, lives=2),  # respawn at the level start: 0 (was -88)
        S(20, lives=2),  # playing again: +4
    ]
    out = play(states, death_penalty=5, terminate_on="game_over")
    assert [r for r, _ in out] == [-5.0, 0.0, 0.0, 0.0, 4.0]
    assert not any(t for _, t in out)


def test_lives_drop_before_the_dying_flag_is_charged_once():
    states = [S(100), S(100, lives=2), S(100, lives=2, dying=True), S(16, lives=2), S(19, lives=2)]
    assert [r for r, _ in play(states, death_penalty=2, terminate_on="game_over")] == [-2.0, 0.0, 0.0, 3.0]


def test_two_deaths_are_two_charges():
    states = [S(50), S(60, lives=2, dying=True), S(16, lives=2), S(30, lives=2), S(40, lives=1, dying=True), S(16, lives=1)]
    assert [r for r, _ in play(states, death_penalty=1, terminate_on="game_over")] == [-1.0, 0.0, 14.0, -1.0, 0.0]


def test_terminate_on_life_ends_at_the_first_death_game_over_at_game_over():
    life = play([S(10), S(12, lives=2, dying=True)], terminate_on="life")
    assert life == [(0.0, True)]
    states = [S(10), S(12, lives=2, dying=True), S(16, lives=2), S(20, lives=2), S(20, lives=1, dying=True),
              S(20, lives=1, game_over=True)]
    assert play(states, terminate_on="game_over") == [(0.0, False), (0.0, False), (4.0, False), (0.0, False), (0.0, True)]


def test_level_complete_pays_its_progress_and_ends():
    assert play([S(1500), S(1510, complete=True)]) == [(10.0, True)]


class ScriptedSpec(GameSpec):
    """A game whose `read` returns the next scripted state; Hopland's bundled ROM only passes the ROM check."""

    name, env_id, display_name = "scripted", "GB/Scripted-v0", "Scripted"
    rom = Hopland.rom
    levels = ("1",)
    default_level = "1"
    max_episode_steps = 100

    def __init__(self, states):
        self.states, self.gb = list(states), FakeGameBoy()

    def start(self, session, level, seed):
        return self.gb

    def read(self, gb):
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def test_env_charges_a_death_once_with_game_over_and_counts_turn_frames():
    spec = ScriptedSpec([S(100), S(105), S(110, dying=True), S(110, lives=2, dying=True), S(16, lives=2), S(46, lives=2)])
    env = GameBoyEnv(game=spec, actions="buttons", terminate_on="game_over", death_penalty=3, reward_per="frame")
    _, info = env.reset(seed=0)
    assert info["x_progress"] == 100 and spec.gb.frames == 1
    steps = [env.step(b) for b in (["right"], ["right"], [], ["a", "right"], ["a"])]
    assert [r for _, r, *_ in steps] == [1.0, -3.0, 0.0, 0.0, 2.0]  # 5 px / 5 frames; -3 once; 30 px / 15 frames
    assert [s[4]["turn_frames"] for s in steps] == [5, 5, 5, 15, 15]
    assert [s[4]["died"] for s in steps] == [False, True, False, False, False]  # the death's first sign only
    assert info["died"] is False
    assert steps[-1][4]["frames"] == spec.gb.frames == 1 + 5 + 5 + 5 + 15 + 15
    assert steps[-1][4]["max_x"] == 105 and not any(s[2] for s in steps)
    assert spec.gb.held == set()  # every turn ends with its buttons released
    env.close()


def test_env_terminates_on_the_first_sign_of_death_with_terminate_on_life():
    env = GameBoyEnv(game=ScriptedSpec([S(100), S(110, dying=True)]), actions="buttons", death_penalty=3)
    env.reset(seed=0)
    _, r, terminated, truncated, _ = env.step(["right"])
    assert (r, terminated, truncated) == (-3.0, True, False)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(["right"])
    env.close()
