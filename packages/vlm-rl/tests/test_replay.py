"""Replays: episodes kept as actions + per-turn fields re-render, through the emulator, the very frames played."""

import numpy as np
import pytest
import torch

from vlm_rl.config import EnvCfg
from vlm_rl.envs import make_env
from vlm_rl.replay.page import spread
from vlm_rl.replay.record import eval_record, keep_rl_step, read_replay, reward_to_go, rl_records, write_replay
from vlm_rl.replay.render import ReplayMismatch, render
from vlm_rl.rollout import make_jobs, run_episodes

ACTIONS = [["right"], ["a", "right"], None, [], ["right"], ["b", "right"], ["left"]]


def _scripted(frames, infos):
    """Every env cycles through ACTIONS (None: an invalid answer, the env is not stepped)."""
    _scripted.calls = getattr(_scripted, "calls", 0) + 1
    return [(ACTIONS[(_scripted.calls + i) % len(ACTIONS)], None) for i in range(len(frames))]


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    cfg = EnvCfg(levels=["1", "2"])
    envs = [make_env(cfg, ram_info=True) for _ in range(2)]

    def start_state(level, seed):
        envs[0].reset(seed=seed, options={"level": level})
        for _ in range(3):
            envs[0].step(["right"])
        return envs[0].unwrapped.clone_state()

    # two groups of two sharing a saved start state (GRPO's jobs), and two plain ones; 2 envs for 6 jobs
    jobs = make_jobs(["1", "2"], [3, 11], 2, start_state) + make_jobs(["2", "1"], [5, 8], 1)
    episodes = run_episodes(envs, _scripted, jobs, max_turns=14)
    path = write_replay(tmp_path_factory.mktemp("replay") / "x.json.gz", [eval_record(ep, 0.9) for ep in episodes],
                        kind="eval", title="scripted")
    yield episodes, read_replay(path), cfg
    for env in envs:
        env.close()


def test_frames_re_rendered_from_the_actions_equal_the_frames_played(played):
    episodes, doc, cfg = played
    assert sum(ep.job.state is not None for ep in episodes) == 4
    env = make_env(cfg, ram_info=True)  # a fresh env, used for every episode in turn
    for ep, rec in zip(episodes, doc["episodes"], strict=True):
        frames = render(env, rec)
        played_frames = [s.frame for s in ep.steps] + [ep.final_frame]
        assert len(frames) == len(played_frames) == len(rec["turns"]) + 1
        for t, (a, b) in enumerate(zip(frames, played_frames, strict=True)):
            assert np.array_equal(a, b), (rec["level"], rec["seed"], t)
        assert len({f.tobytes() for f in frames}) > 1  # the episode moved: the check compared real frames
    env.close()


def test_records_hold_each_turns_fields(played):
    episodes, doc, _ = played
    for ep, rec in zip(episodes, doc["episodes"], strict=True):
        assert rec["progress"] == ep.progress and rec["end"] == ep.end
        assert [t["action"] for t in rec["turns"]] == [s.action for s in ep.steps]
        assert [t["reward"] for t in rec["turns"]] == pytest.approx([s.reward for s in ep.steps])
        assert [t["return"] for t in rec["turns"]] == pytest.approx(reward_to_go([s.reward for s in ep.steps], 0.9))
        assert all(t["ram"] is not None and t["value"] is None for t in rec["turns"])
    assert reward_to_go([1.0, 2.0, 4.0], 0.5) == [1 + 0.5 * (2 + 0.5 * 4), 2 + 0.5 * 4, 4.0]


def test_a_replay_that_diverges_from_the_run_is_refused(played):
    _, doc, cfg = played
    rec = next(r for r in doc["episodes"] if any(t["reward"] for t in r["turns"]))
    tampered = {**rec, "turns": [{**t, "action": [] if t["action"] is not None else None} for t in rec["turns"]]}
    env = make_env(cfg, ram_info=True)
    with pytest.raises(ReplayMismatch, match="run's env config"):
        render(env, tampered)
    env.close()


def test_which_rl_steps_keep_replays_and_which_episodes_are_shown():
    assert [s for s in range(1, 13) if keep_rl_step(s, 12, 5)] == [1, 5, 10, 12]
    assert not any(keep_rl_step(s, 12, 0) for s in range(1, 13))
    eps = [{"progress": p} for p in (5, 0, 9, 3, 7, 1, 8)]
    assert [e["progress"] for e in spread(eps, 3)] == [0, 5, 9]  # worst, median, best
    assert spread(eps, 10) == eps


def test_rl_records_put_each_turns_numbers_on_its_turn(played):
    """The estimator's outputs come per remaining turn (here rl.drop_last_turns cut each episode's last
    turn): each lands on its own turn, the cut turns get none and are not kept; no critic, no values."""
    episodes = played[0][:2]
    lengths = [len(ep.steps) for ep in episodes]
    ends = {sum(lengths[: k + 1]) - 1 for k in range(2)}
    rows = torch.tensor([i for i in range(sum(lengths)) if i not in ends])
    returns, adv = rows.double() * 10, rows.double() - 0.5
    keep = adv > 3
    for values in (rows.double() + 0.25, None):
        recs = rl_records(episodes, rows, values, returns, adv, keep)
        flat = [t for r in recs for t in r["turns"]]
        assert [len(r["turns"]) for r in recs] == lengths
        for i, t in enumerate(flat):
            if i in ends:
                assert (t["value"], t["return"], t["advantage"], t["kept"]) == (None, None, None, False)
            else:
                assert (t["value"], t["return"], t["advantage"], t["kept"]) == (
                    None if values is None else i + 0.25, i * 10, i - 0.5, i - 0.5 > 3)


def test_the_replay_command_says_what_is_missing(tmp_path):
    from vlm_rl.replay.__main__ import main

    with pytest.raises(FileNotFoundError, match="holds no replays"):
        main([str(tmp_path)])
    write_replay(tmp_path / "rl" / "replays" / "step_00001.json.gz", [], kind="rl", title="RL step 1", step=1)
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        main([str(tmp_path)])
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--episodes", "0"])
