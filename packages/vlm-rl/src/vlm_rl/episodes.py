"""Play episodes on a pool of envs with one batched policy call per turn.

Used for RL rollouts (keeping every turn) and for evaluation (keeping only the
outcome), by the VLM trainer and the SB3 baselines alike. A policy may return
`None` for an env: the answer was invalid, so that env is not stepped and the
turn pays `format_penalty`, as in the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

# policy(frames, env_indices) -> one (action or None, extra record) per frame;
# env_indices says which env of the pool each frame comes from
Policy = Callable[[list[np.ndarray], list[int]], list[tuple[Any, Any]]]


@dataclass(frozen=True)
class Job:
    """One episode to play: its level, reset seed, group (for GRPO) and optional start state."""

    level: str
    seed: int
    group: int = 0
    state: bytes | None = None


@dataclass
class Turn:
    frame: np.ndarray  # the observation the decision was made on
    action: Any  # None: invalid answer, env not stepped
    reward: float
    extra: Any = None


@dataclass
class Episode:
    job: Job
    x_start: int
    max_x: int = 0
    end: str = "time"  # "complete", "died", "time"
    turns: list[Turn] = field(default_factory=list)
    n_turns: int = 0
    format_errors: int = 0

    @property
    def progress(self) -> int:
        """x-progress reached beyond the start position (the paper's "level progress")."""
        return self.max_x - self.x_start

    @property
    def total_reward(self) -> float:
        return sum(t.reward for t in self.turns)


def run_episodes(
    envs: Sequence[gym.Env],
    policy: Policy,
    jobs: Sequence[Job],
    max_turns: int,
    format_penalty: float = -100.0,
    keep_turns: bool = True,
    on_episode: Callable[[Episode], None] | None = None,
) -> list[Episode]:
    """Play every job to its end (terminated, truncated or `max_turns`), `len(envs)` at a time.

    Episodes come back in the order of `jobs`. The envs should have no `TimeLimit`
    below `max_turns`; turns with an invalid answer count toward `max_turns`.
    """
    queue = list(enumerate(jobs))
    results: list[Episode | None] = [None] * len(jobs)
    slots: list[tuple[int, Episode, np.ndarray] | None] = [None] * len(envs)

    def start(i: int) -> None:
        idx, job = queue.pop(0)
        options: dict[str, Any] = {"level": job.level}
        if job.state is not None:
            options["state"] = job.state
        obs, info = envs[i].reset(seed=job.seed, options=options)
        slots[i] = (idx, Episode(job=job, x_start=info["x_progress"], max_x=info["x_progress"]), obs)

    for i in range(len(envs)):
        if queue:
            start(i)
    while any(s is not None for s in slots):
        active = [i for i, s in enumerate(slots) if s is not None]
        decisions = policy([slots[i][2] for i in active], active)
        for i, (action, extra) in zip(active, decisions, strict=True):
            idx, ep, obs = slots[i]
            ep.n_turns += 1
            done = False
            if action is None:
                ep.format_errors += 1
                reward, next_obs = format_penalty, obs
            else:
                next_obs, reward, terminated, truncated, info = envs[i].step(action)
                ep.max_x = max(ep.max_x, info["max_x"])
                if terminated:
                    ep.end = "complete" if info["level_complete"] else "died"
                done = terminated or truncated
            if keep_turns:
                ep.turns.append(Turn(frame=obs, action=action, reward=float(reward), extra=extra))
            if done or ep.n_turns >= max_turns:
                results[idx] = ep
                slots[i] = None
                if on_episode is not None:
                    on_episode(ep)
                if queue:
                    start(i)
            else:
                slots[i] = (idx, ep, next_obs)
    return results  # type: ignore[return-value]
