"""Episode running: groups share a start state (GRPO), invalid answers cost the penalty without a step."""

import gymnasium as gym
import numpy as np
import pytest

import gb_gym  # noqa: F401
from vlm_rl.rollout import Job, make_jobs, run_episodes


def _envs(n):
    return [gym.make("GB/Hopland-v0", actions="buttons", max_episode_steps=10**6) for _ in range(n)]


def test_group_members_start_from_one_saved_state():
    envs = _envs(3)
    scratch = envs[0]

    def start_state(level, seed):
        scratch.reset(seed=seed, options={"level": level})
        for _ in range(4):  # a state some turns into the level, not just its start
            scratch.step(["b", "right"])
        return scratch.unwrapped.clone_state()

    jobs = make_jobs(["1", "2"], [11, 12], group_size=3, start_state=start_state, first_group=10)
    assert [j.group for j in jobs] == [10] * 3 + [11] * 3
    rng = np.random.default_rng(0)

    def policy(frames, active):
        return [(["right"] if rng.random() < 0.5 else ["a", "right"], None) for _ in frames]

    eps = run_episodes(envs, policy, jobs, max_turns=6)
    first = [ep.steps[0].frame for ep in eps]
    assert all(np.array_equal(first[0], f) for f in first[:3]) and all(np.array_equal(first[3], f) for f in first[3:])
    assert not np.array_equal(first[0], first[3])
    assert len({ep.x_start for ep in eps[:3]}) == 1 and eps[0].x_start > 16  # the state is 4 turns in
    for e in envs:
        e.close()


def test_invalid_answers_pay_the_penalty_and_do_not_step():
    envs = _envs(1)
    calls = iter([None, ["right"], None, ["right"]])
    eps = run_episodes(envs, lambda frames, active: [(next(calls), None)], [Job("1", 0)], max_turns=4,
                       format_penalty=-100.0)
    ep = eps[0]
    assert [t.reward for t in ep.steps][0] == -100.0 and ep.steps[2].reward == -100.0
    assert np.array_equal(ep.steps[0].frame, ep.steps[1].frame)  # not stepped: same observation again
    assert ep.format_errors == 2 and ep.n_turns == 4 and ep.end == "time"
    assert ep.steps[1].reward > 0
    envs[0].close()


def test_jobs_are_returned_in_order_with_their_outcomes():
    envs = _envs(2)
    jobs = [Job("1", s) for s in range(5)]
    eps = run_episodes(envs, lambda frames, active: [(["left"], None)] * len(frames), jobs, max_turns=3)
    assert [ep.job.seed for ep in eps] == list(range(5))
    assert all(ep.n_turns == 3 and ep.progress == 0 for ep in eps)
    for e in envs:
        e.close()


@pytest.mark.parametrize("n", [1, 3])
def test_every_job_is_played_once_whatever_the_pool_size(n):
    envs = _envs(n)
    jobs = [Job("1", s) for s in range(4)]
    eps = run_episodes(envs, lambda frames, active: [(["right"], None)] * len(frames), jobs, max_turns=2)
    assert len(eps) == 4 and all(ep.n_turns == 2 for ep in eps)
    for e in envs:
        e.close()
