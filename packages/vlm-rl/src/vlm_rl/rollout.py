"""Rollouts: the episode loop over a pool of envs, and the flat batch it produces.

The pool is not lock-step: every env hands its frame to the policy as soon as its previous step is
done (`submit`), the pool takes back whatever decisions are ready (`poll`) and steps those envs
alone, and an env whose episode ends takes the next job at once. A plain batched `Policy` (a
function of the frames of every env waiting) is driven through `LockStep`, one call per round over
every env still playing; a streaming policy (the vLLM engine, `vlm_rl.engines`) answers each env
as soon as its own answer is sampled, so no env waits for the slowest answer of a batch.

A policy may return `None` for an env: the answer was invalid, so that env is not stepped and the
turn pays `format_penalty`, as in the paper. Every step keeps `terminated` / `truncated`, and,
where the env was made with `ram_info=True`, the RAM's `Scene` of the frame the decision was made
on (for perception fidelity). Used by RL, evaluation, annotation and the SB3 baselines alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
import torch

from gb_gym.spec import Scene

from .models.actor import Turn, VLMActor
from .parsing import format_stats
from .perception import perception_fidelity

# policy(frames, infos) -> one (action or None, record) per frame; infos are the envs' info dicts of those frames
Policy = Callable[[list[np.ndarray], list[dict]], list[tuple[Any, Any]]]


@runtime_checkable
class StreamingPolicy(Protocol):
    """A policy the pool feeds one env at a time: `submit` an env's frame under a key (the env's slot),
    `poll` the decisions ready so far, (key, (action or None, record)), at least one while any is pending."""

    def submit(self, key: int, frame: np.ndarray, info: dict) -> None: ...

    def poll(self) -> list[tuple[int, tuple[Any, Any]]]: ...


class LockStep:
    """A batched `Policy` as a `StreamingPolicy`: each poll decides every pending env in one call, in slot order."""

    def __init__(self, policy: Policy):
        self.policy, self.pending = policy, {}

    def submit(self, key: int, frame: np.ndarray, info: dict) -> None:
        self.pending[key] = (frame, info)

    def poll(self) -> list[tuple[int, tuple[Any, Any]]]:
        keys = sorted(self.pending)
        todo = [self.pending.pop(k) for k in keys]
        return list(zip(keys, self.policy([f for f, _ in todo], [i for _, i in todo]), strict=True))


@dataclass(frozen=True)
class Job:
    """One episode to play: its level, reset seed, group (for GRPO) and optional start state."""

    level: str
    seed: int
    group: int = 0
    state: bytes | None = None


@dataclass
class Step:
    frame: np.ndarray  # the observation the decision was made on
    action: Any  # None: invalid answer, env not stepped
    reward: float
    terminated: bool  # the episode ended in the game (death, level complete)
    truncated: bool  # the episode was cut by a turn limit after this step
    record: Any = None  # what the policy returned with the action (the actor's Turn, ...)
    scene: Scene | None = None  # the RAM's description of `frame` (envs made with ram_info=True)
    scripted: tuple | None = None  # the game's scripted (buttons, reason) for `frame`
    turn_frames: int = 0  # emulator frames this turn played (0: not stepped)
    max_x: int = 0  # the episode's best x after this step (Episode.max_x so far)
    died: bool = False  # this step showed a death's first sign


@dataclass
class Episode:
    job: Job
    x_start: int
    max_x: int = 0
    end: str = "time"  # "complete", "died", "time"
    steps: list[Step] = field(default_factory=list)
    n_turns: int = 0
    format_errors: int = 0
    final_frame: np.ndarray | None = None  # the observation after the last step

    @property
    def progress(self) -> int:
        """x-progress reached beyond the start position (the paper's "level progress")."""
        return self.max_x - self.x_start

    @property
    def total_reward(self) -> float:
        return sum(s.reward for s in self.steps)


def run_episodes(
    envs: Sequence[gym.Env],
    policy: Policy | StreamingPolicy,
    jobs: Sequence[Job],
    max_turns: int,
    format_penalty: float = -100.0,
    keep_steps: bool = True,
    on_episode: Callable[[Episode], None] | None = None,
) -> list[Episode]:
    """Play every job to its end (terminated, truncated or `max_turns`), `len(envs)` at a time.

    Episodes come back in the order of `jobs`. The envs should have no `TimeLimit`
    below `max_turns`; turns with an invalid answer count toward `max_turns`.
    """
    stream = policy if isinstance(policy, StreamingPolicy) else LockStep(policy)
    queue = list(enumerate(jobs))
    results: list[Episode | None] = [None] * len(jobs)
    slots: list[tuple[int, Episode, np.ndarray, dict] | None] = [None] * len(envs)

    def start(i: int) -> None:
        idx, job = queue.pop(0)
        options: dict[str, Any] = {"level": job.level}
        if job.state is not None:
            options["state"] = job.state
        obs, info = envs[i].reset(seed=job.seed, options=options)
        slots[i] = (idx, Episode(job=job, x_start=info["x_progress"], max_x=info["x_progress"]), obs, info)
        stream.submit(i, obs, info)

    for i in range(len(envs)):
        if queue:
            start(i)
    while any(s is not None for s in slots):
        for i, (action, record) in stream.poll():
            idx, ep, obs, info = slots[i]
            ep.n_turns += 1
            terminated = truncated = died = False
            turn_frames = 0
            if action is None:
                ep.format_errors += 1
                reward, next_obs, next_info = format_penalty, obs, info
            else:
                next_obs, reward, terminated, truncated, next_info = envs[i].step(action)
                ep.max_x = max(ep.max_x, next_info["max_x"])
                turn_frames, died = int(next_info["turn_frames"]), bool(next_info["died"])
                if terminated:
                    ep.end = "complete" if next_info["level_complete"] else "died"
            truncated = bool(truncated or (not terminated and ep.n_turns >= max_turns))
            if keep_steps:
                ep.steps.append(Step(obs, action, float(reward), bool(terminated), truncated, record,
                                     info.get("scene"), info.get("scripted"), turn_frames, ep.max_x, died))
            if terminated or truncated:
                ep.final_frame = next_obs
                results[idx] = ep
                slots[i] = None
                if on_episode is not None:
                    on_episode(ep)
                if queue:
                    start(i)
            else:
                slots[i] = (idx, ep, next_obs, next_info)
                stream.submit(i, next_obs, next_info)
    return results  # type: ignore[return-value]


def make_jobs(levels: Sequence[str], seeds: Sequence[int], group_size: int, start_state=None,
              first_group: int = 0) -> list[Job]:
    """Jobs for len(levels) groups of `group_size`; a group shares a saved start state when group_size > 1
    (`start_state(level, seed)` makes it), so GRPO compares trajectories from one state."""
    jobs = []
    for g, (level, seed) in enumerate(zip(levels, seeds, strict=True)):
        state = start_state(level, seed) if group_size > 1 and start_state is not None else None
        jobs += [Job(level=level, seed=seed + k, group=first_group + g, state=state) for k in range(group_size)]
    return jobs


def eval_jobs(levels: Sequence[str], episodes: int, seed: int, states: Sequence[str] = ()
              ) -> tuple[list[Job], list[str]]:
    """`episodes` jobs per level (seeds seed, seed+1, ...) and per saved-state file, and the labels of
    their groups: a level's jobs are labelled by the level, a state's by `state:<file stem>`."""
    jobs = [Job(level=lv, seed=seed + i) for lv in levels for i in range(episodes)]
    labels = list(levels)
    for path in states:
        state = Path(path).read_bytes()
        labels.append(f"state:{Path(path).stem}")
        # the level a state belongs to is read from its RAM once loaded; the job's level only names it
        jobs += [Job(level=levels[0], seed=seed + i, group=len(labels) - 1, state=state)
                 for i in range(episodes)]
    return jobs, labels


def by_label(episodes: Sequence[Episode], labels: Sequence[str]) -> dict[str, list[Episode]]:
    out: dict[str, list[Episode]] = {lb: [] for lb in labels}
    for ep in episodes:
        out[labels[ep.job.group] if ep.job.state is not None else ep.job.level].append(ep)
    return out


class ActorPolicy:
    """`Policy` for a VLM: invalid answers become `None` (env not stepped, format penalty)."""

    def __init__(self, actor: VLMActor, greedy: bool = False):
        self.actor, self.greedy = actor, greedy

    def __call__(self, frames: list[np.ndarray], infos: list[dict]) -> list[tuple[Any, Turn]]:
        turns = self.actor.act(frames, greedy=self.greedy)
        return [(list(t.parsed.buttons) if t.parsed.buttons is not None else None, t) for t in turns]


def evaluate_actor(actor: VLMActor, envs: Sequence[gym.Env], levels: Sequence[str], episodes: int, seed: int,
                   max_turns: int, *, greedy: bool = False, states: Sequence[str] = (), format_penalty: float = -100.0,
                   keep_steps: bool = True, on_episode: Callable[[Episode], None] | None = None,
                   ) -> dict[str, list[Episode]]:
    """`episodes` episodes per level and per saved-state file (seeds seed, seed+1, ...), by label, with the
    actor in eval mode; RL's learning curves and the evaluation stage both measure through here."""
    jobs, labels = eval_jobs(levels, episodes, seed, states)
    was_training = actor.model.training
    actor.model.eval()
    try:
        eps = run_episodes(envs, ActorPolicy(actor, greedy=greedy), jobs, max_turns=max_turns,
                           format_penalty=format_penalty, keep_steps=keep_steps, on_episode=on_episode)
    finally:
        actor.model.train(was_training)
    return by_label(eps, labels)


@dataclass
class RolloutBatch:
    """Every step of a batch of episodes, flattened in time order per trajectory (trajectory k = episode k)."""

    turns: list[Turn]  # the actor's records: prompt ids, sampled ids and log-probs
    frames: np.ndarray  # (T, H, W, 3) uint8: the critic's input
    rewards: torch.Tensor  # (T,) float32
    terminated: torch.Tensor  # (T,) bool
    truncated: torch.Tensor  # (T,) bool
    traj_id: torch.Tensor  # (T,) long
    group_id: torch.Tensor  # (T,) long
    scenes: list[Scene | None]
    final_frames: np.ndarray  # (N, H, W, 3): each trajectory's observation after its last step

    def __len__(self) -> int:
        return len(self.rewards)

    def next_values(self, values: torch.Tensor, final_values: torch.Tensor) -> torch.Tensor:
        """(T,) value of the observation after each step: values[t + 1] inside a trajectory, and
        final_values[k] (the value of trajectory k's final frame) after its last step."""
        nxt = torch.roll(values, -1)
        last = torch.ones(len(self), dtype=torch.bool)
        if len(self):
            last[:-1] = self.traj_id[1:] != self.traj_id[:-1]
        nxt[last] = final_values[self.traj_id[last]].to(values.dtype)
        return nxt

    def select(self, keep: torch.Tensor) -> RolloutBatch:
        """The steps where keep is True (trajectory ids unchanged)."""
        rows = torch.nonzero(keep).flatten().tolist()
        return replace(
            self, turns=[self.turns[i] for i in rows], frames=self.frames[rows], rewards=self.rewards[keep],
            terminated=self.terminated[keep], truncated=self.truncated[keep], traj_id=self.traj_id[keep],
            group_id=self.group_id[keep], scenes=[self.scenes[i] for i in rows],
        )


def flatten(episodes: Sequence[Episode]) -> RolloutBatch:
    steps = [(k, ep, s) for k, ep in enumerate(episodes) for s in ep.steps]
    empty = np.zeros((0, 144, 160, 3), np.uint8)
    return RolloutBatch(
        turns=[s.record for _, _, s in steps],
        frames=np.stack([s.frame for _, _, s in steps]) if steps else empty,
        rewards=torch.tensor([s.reward for _, _, s in steps], dtype=torch.float32),
        terminated=torch.tensor([s.terminated for _, _, s in steps], dtype=torch.bool),
        truncated=torch.tensor([s.truncated for _, _, s in steps], dtype=torch.bool),
        traj_id=torch.tensor([k for k, _, _ in steps], dtype=torch.long),
        group_id=torch.tensor([ep.job.group for _, ep, _ in steps], dtype=torch.long),
        scenes=[s.scene for _, _, s in steps],
        final_frames=np.stack([ep.final_frame for ep in episodes]) if episodes else empty,
    )


def episode_stats(episodes: Sequence[Episode], batch: RolloutBatch | None = None) -> dict[str, float]:
    """Outcome, format and perception metrics of a batch of episodes."""
    if not episodes:
        return {}
    progress = [ep.progress for ep in episodes]
    out = {
        "progress_mean": float(np.mean(progress)),
        "progress_max": float(np.max(progress)),
        "turns_mean": float(np.mean([ep.n_turns for ep in episodes])),
        "return_mean": float(np.mean([ep.total_reward for ep in episodes])),
        "complete_rate": float(np.mean([ep.end == "complete" for ep in episodes])),
        "death_rate": float(np.mean([ep.end == "died" for ep in episodes])),
    }
    if batch is not None and batch.turns:
        parsed = [t.parsed for t in batch.turns]
        stats = format_stats(parsed)
        out["format_strict"], out["format_lenient"] = stats["strict_rate"], stats["lenient_rate"]
        out["response_tokens"] = float(np.mean([len(t.response_ids) for t in batch.turns]))
        out["truncated_rate"] = float(np.mean([t.truncated for t in batch.turns]))
        actions = Counter(p.action_name for p in parsed)
        for name, c in actions.items():
            out[f"action/{name}"] = c / len(parsed)
        pairs = [(t.parsed.perception, s) for t, s in zip(batch.turns, batch.scenes, strict=True) if s is not None]
        out.update(perception_fidelity(pairs))
    return out
