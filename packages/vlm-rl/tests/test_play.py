"""Play metrics (progress within a frame budget, completion, deaths, jump rates by what the RAM says is
ahead) on hand-built episodes, the tables that carry them, and the constant-answer baseline on Hopland."""

import csv
import json

import gymnasium as gym
import numpy as np
import pytest

import gb_gym  # noqa: F401
from gb_gym.spec import Enemy, Scene
from vlm_rl.baselines.constant import best_answer, constant_answers
from vlm_rl.baselines.reference import allowed_answers, plays, random_policy, scripted_policy
from vlm_rl.play import CLEAR, HAZARD, OTHER, jump_rates, per_episode, play_of, situation
from vlm_rl.report.stats import Metric, scalar_table, write_tables
from vlm_rl.rollout import Episode, Job, Step

FRAME = np.zeros((144, 160, 3), np.uint8)


def _scene(on_ground=True, terrain=(2,) * 12, enemies=()):
    return Scene(game="hopland", level="1", lives=3, x_progress=0, player_y=104, on_ground=on_ground,
                 enemies=tuple(enemies), terrain=terrain)


CLEAR_S = _scene()
PIT_NEAR = _scene(terrain=(2, 2, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2))  # a pit 2 tiles ahead
WALL_NEAR = _scene(terrain=(2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3))  # a step up 2 tiles ahead
PIT_FAR = _scene(terrain=(2, 2, 2, 2, 2, 2, 2, 0, 2, 2, 2, 2))  # 7 tiles: beyond a jump's reach
ENEMY_NEAR = _scene(enemies=[Enemy(dx=16, dy=0)])
IN_AIR = _scene(on_ground=False, terrain=(2, 2, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2))


def _step(action, frames, max_x, scene, died=False):
    return Step(FRAME, action, 0.0, False, False, scene=scene, turn_frames=frames, max_x=max_x, died=died)


def test_situations_read_from_the_ram():
    assert situation(CLEAR_S) == CLEAR and situation(PIT_FAR) == CLEAR  # far hazard: still clear ground
    assert situation(PIT_NEAR) == HAZARD and situation(WALL_NEAR) == HAZARD
    assert situation(ENEMY_NEAR) == OTHER and situation(IN_AIR) == OTHER  # in the air 'a' starts no jump


# A (level 1): walks, jumps a pit, an invalid answer (no frames), a jump in the air, and completes the level
EP_A = Episode(Job("1", 0), x_start=100, max_x=150, end="complete", steps=[
    _step(["right"], 5, 105, CLEAR_S),
    _step(["a", "right"], 15, 120, PIT_NEAR),
    _step(None, 0, 120, PIT_NEAR),
    _step(["a", "right"], 15, 140, IN_AIR),
    _step(["right"], 5, 150, None),
])
# B (level 1, terminate_on=game_over): two deaths
EP_B = Episode(Job("1", 1), x_start=16, max_x=40, end="died", steps=[
    _step(["right"], 5, 26, CLEAR_S),
    _step(["right"], 5, 26, ENEMY_NEAR, died=True),
    _step([], 5, 26, None),
    _step(["a"], 15, 40, WALL_NEAR, died=True),
])
# C (level 2): one jump on clear ground, cut by the turn limit
EP_C = Episode(Job("2", 2), x_start=0, max_x=30, end="time", steps=[_step(["a", "right"], 15, 30, CLEAR_S)])


def test_play_of_hand_built_episodes():
    a, b, c = play_of(EP_A), play_of(EP_B), play_of(EP_C)
    # A's turns end at frames 5, 20, 20, 35, 40 having reached 5, 20, 20, 40, 50 px
    assert a.frames == (5, 20, 20, 35, 40) and a.reached == (5, 20, 20, 40, 50)
    assert (a.progress, a.complete, a.deaths) == (50, True, 0)
    assert [a.progress_within(f) for f in (4, 5, 19, 20, 34, 40, 10**6)] == [0, 5, 5, 20, 20, 50, 50]
    assert (b.progress, b.complete, b.deaths) == (24, False, 2)
    assert b.frames == (5, 10, 15, 30) and b.progress_within(20) == 10
    assert c.progress_within(14) == 0 and c.progress_within(15) == 30
    # one (situation, jumped) per turn with a scene; the invalid answer is no jump
    assert a.situations == ((CLEAR, False), (HAZARD, True), (HAZARD, False), (OTHER, True))
    assert b.situations == ((CLEAR, False), (OTHER, False), (HAZARD, True))


def test_jump_rates_by_hand():
    # hazard near: A2 jumps, A3 (invalid) does not, B4 jumps → 2/3; clear ground: A1 no, B1 no, C1 yes → 1/3
    rates = jump_rates([play_of(ep) for ep in (EP_A, EP_B, EP_C)])
    assert rates == {"jump_hazard_near": pytest.approx(2 / 3), "turns_hazard_near": 3,
                     "jump_clear_ground": pytest.approx(1 / 3), "turns_clear_ground": 3}
    assert jump_rates([play_of(EP_C)]) == {"jump_hazard_near": None, "turns_hazard_near": 0,
                                           "jump_clear_ground": 1.0, "turns_clear_ground": 1}


def test_per_episode_metrics_and_the_tables_that_carry_them(tmp_path):
    plays = {"1": [play_of(EP_A), play_of(EP_B)], "2": [play_of(EP_C)]}
    m = per_episode(plays, frame_budget=20)
    assert m == {"progress_budget": {"1": [20.0, 10.0], "2": [30.0]},
                 "completion": {"1": [100.0, 0.0], "2": [0.0]},
                 "deaths": {"1": [0.0, 2.0], "2": [0.0]}}
    results = {"SFT": {"1": [50.0, 24.0], "2": [30.0]}}
    extra = {"progress_budget": Metric("Within 20 frames", {"SFT": m["progress_budget"]}),
             "completion": Metric("Completion (%)", {"SFT": m["completion"]}),
             "deaths": Metric("Deaths", {"SFT": m["deaths"]}, digits=2)}
    scalars = {"SFT": jump_rates([p for ps in plays.values() for p in ps])}
    paths = write_tables(results, tmp_path, "results", extra=extra, scalars=scalars, scalars_heading="Jumps")

    # budget: level 1 [20, 10] mean 15, se sqrt(50)/sqrt(2) = 5; level 2 [30]: 30 ± 0; Avg. (15 + 30)/2 = 22.5,
    # se sqrt(25 + 0)/2 = 2.5. Completion: [100, 0] → 50 ± 50, [0], Avg. 25 ± 25. Deaths: [0, 2] → 1 ± 1, Avg. 0.5 ± 0.5
    md = paths["md"].read_text()
    assert "Within 20 frames:\n\n| Model | 1 | 2 | Avg. |\n|---|---|---|---|\n| SFT | 15.0 ± 5.0 | 30.0 ± 0.0 | 22.5 ± 2.5 |" in md
    assert "| SFT | 50.0 ± 50.0 | 0.0 ± 0.0 | 25.0 ± 25.0 |" in md
    assert "| SFT | 1.00 ± 1.00 | 0.00 ± 0.00 | 0.50 ± 0.50 |" in md
    assert ("Jumps:\n\n| Model | jump_hazard_near | turns_hazard_near | jump_clear_ground | turns_clear_ground |\n"
            "|---|---|---|---|---|\n| SFT | 0.667 | 3 | 0.333 | 3 |") in md

    row = next(csv.DictReader(paths["csv"].read_text().splitlines()))
    assert row["1 mean"] == "37.0000" and row["n"] == "3"  # the main table's columns are unchanged
    assert (row["progress_budget Avg. mean"], row["progress_budget Avg. se"]) == ("22.5000", "2.5000")
    assert (row["completion 1 mean"], row["deaths 1 se"]) == ("50.0000", "1.0000")
    assert (row["jump_hazard_near"], row["turns_clear_ground"]) == ("0.6667", "3")

    js = json.loads(paths["json"].read_text())["SFT"]
    assert js["values"] == results["SFT"] and js["summary"]["Avg."]["mean"] == pytest.approx((37 + 30) / 2)
    assert js["progress_budget"]["values"] == m["progress_budget"]
    assert js["deaths"]["summary"]["Avg."] == {"mean": 0.5, "se": 0.5, "n": 3}
    assert js["jump_hazard_near"] == pytest.approx(2 / 3) and js["turns_hazard_near"] == 3

    # a rate with no turn to count is shown as a dash
    assert scalar_table({"RL": jump_rates([play_of(EP_C)])}).splitlines()[-1] == "| RL | — | 0 | 1.000 | 1 |"
    with pytest.raises(ValueError, match="give every row each metric"):
        write_tables({**results, "RL": results["SFT"]}, tmp_path, "bad", extra=extra)


def test_constant_answers_on_hopland_match_playing_them_by_hand():
    """Two answers × 2 episodes × 4 turns on level 1: each Play is what stepping the env by hand gives."""
    envs = [gym.make("GB/Hopland-v0", actions="buttons", max_episode_steps=10**6, ram_info=True) for _ in range(2)]
    answers = [("right",), ("a", "right")]
    got = constant_answers("hopland", envs, ["1"], episodes=2, seed=1000, max_turns=4, answers=answers)
    assert list(got) == ["right", "a+right"] and all(list(per) == ["1"] for per in got.values())
    env = envs[0]
    for buttons in answers:
        for i, play in enumerate(got["+".join(buttons)]["1"]):
            _, info = env.reset(seed=1000 + i, options={"level": "1"})
            x0, frames, reached = info["x_progress"], [], []
            for _ in range(4):
                _, _, terminated, _, info = env.step(list(buttons))
                frames.append(info["frames"] - 1)  # reset renders one frame before the first turn
                reached.append(info["max_x"] - x0)
                if terminated:
                    break
            assert play.frames == tuple(frames) and play.reached == tuple(reached) and play.progress == reached[-1]
            assert all(jumped == ("a" in buttons) for _, jumped in play.situations) and len(play.situations) == len(frames)
    # walking turns are 5 frames, jumping ones 15: within 20 frames 'right' plays 4 turns, 'a+right' one
    assert [p.frames for p in got["right"]["1"]] == [(5, 10, 15, 20)] * 2
    jump = got["a+right"]["1"][0]
    assert jump.frames[0] == 15 and jump.progress_within(20) == jump.reached[0]
    # on these seeds jumping every turn goes further within the turn limit, walking within the frame budget
    walk = got["right"]["1"][0]
    assert jump.progress > walk.progress and jump.progress_within(20) < walk.progress_within(20)
    means = {name: np.mean([p.progress for p in per["1"]]) for name, per in got.items()}
    assert best_answer(got) == max(means, key=means.get)
    for e in envs:
        e.close()


def test_random_and_scripted_rows_on_hopland_match_playing_them_by_hand():
    """The reference rows: seeded random answers (each an allowed one) and the scripted player's decisions,
    2 episodes × 6 turns on level 1; each Play is what stepping the env by hand with those answers gives."""
    envs = [gym.make("GB/Hopland-v0", actions="buttons", max_episode_steps=10**6, ram_info=True) for _ in range(2)]
    allowed = set(allowed_answers("hopland"))
    draws = random_policy("hopland", 7)([None] * 50, [{}] * 50)
    assert draws == random_policy("hopland", 7)([None] * 50, [{}] * 50)  # seeded
    assert all(tuple(b) in allowed for b, _ in draws) and len({tuple(b) for b, _ in draws}) > 5
    got = plays(envs, scripted_policy, ["1"], episodes=2, seed=1000, max_turns=6)
    env = envs[0]
    for i, play in enumerate(got["1"]):
        _, info = env.reset(seed=1000 + i, options={"level": "1"})
        x0, reached = info["x_progress"], []
        for _ in range(6):
            _, _, terminated, _, info = env.step(list(info["scripted"][0]))
            reached.append(info["max_x"] - x0)
            if terminated:
                break
        assert play.reached == tuple(reached) and play.progress == reached[-1] > 0
    with pytest.raises(ValueError, match="scripted player"):
        scripted_policy([None], [{"scripted": None}])
    for e in envs:
        e.close()
