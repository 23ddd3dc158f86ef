"""VLM rollouts: the actor plays a pool of envs, one batched generate call per turn.

Each decision keeps the actor's `Turn` (prompt ids, sampled ids, log-probs, text,
parse) and, where the game's RAM describes the screen, the `Scene` at that moment,
so perception fidelity can be measured against the RAM.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gb_gym.spec import GameSpec, Scene

from .actor import Turn as ActorTurn
from .actor import VLMActor
from .episodes import Episode, Job
from .parsing import format_stats
from .teacher import perception_fidelity


@dataclass
class Decision:
    turn: ActorTurn
    scene: Scene | None


class ActorPolicy:
    """`episodes.Policy` for a VLM: invalid answers become `None` (env not stepped, format penalty)."""

    def __init__(self, actor: VLMActor, envs: Sequence[Any], greedy: bool = False):
        self.actor, self.envs, self.greedy = actor, envs, greedy
        spec = envs[0].unwrapped.spec_game
        self.has_scene = type(spec).scene is not GameSpec.scene

    def __call__(self, frames: list[np.ndarray], active: list[int]) -> list[tuple[Any, Decision]]:
        turns = self.actor.act(frames, greedy=self.greedy)
        out = []
        for t, i in zip(turns, active, strict=True):
            base = self.envs[i].unwrapped
            scene = base.spec_game.scene(base.pyboy) if self.has_scene else None
            action = list(t.parsed.buttons) if t.parsed.buttons is not None else None
            out.append((action, Decision(t, scene)))
        return out


def make_jobs(levels: Sequence[str], seeds: Sequence[int], group_size: int, start_state=None,
              first_group: int = 0) -> list[Job]:
    """Jobs for len(levels) groups of `group_size`; a group shares a saved start state when group_size > 1
    (`start_state(level, seed)` makes it), so GRPO compares trajectories from one state."""
    jobs = []
    for g, (level, seed) in enumerate(zip(levels, seeds, strict=True)):
        state = start_state(level, seed) if group_size > 1 and start_state is not None else None
        jobs += [Job(level=level, seed=seed + k, group=first_group + g, state=state) for k in range(group_size)]
    return jobs


@dataclass
class FlatBatch:
    """Every decision of a batch of episodes, flattened in time order per trajectory."""

    turns: list[ActorTurn]
    frames: np.ndarray  # (T, H, W, 3) uint8: the critic's input
    rewards: torch.Tensor  # (T,)
    traj_id: torch.Tensor  # (T,)
    group_id: torch.Tensor  # (T,)
    scenes: list[Scene | None]


def flatten(episodes: Sequence[Episode]) -> FlatBatch:
    turns, frames, rewards, traj, group, scenes = [], [], [], [], [], []
    for k, ep in enumerate(episodes):
        for t in ep.turns:
            d: Decision = t.extra
            turns.append(d.turn)
            scenes.append(d.scene)
            frames.append(t.frame)
            rewards.append(t.reward)
            traj.append(k)
            group.append(ep.job.group)
    return FlatBatch(
        turns=turns,
        frames=np.stack(frames) if frames else np.zeros((0, 144, 160, 3), np.uint8),
        rewards=torch.tensor(rewards, dtype=torch.float32),
        traj_id=torch.tensor(traj, dtype=torch.long),
        group_id=torch.tensor(group, dtype=torch.long),
        scenes=scenes,
    )


def episode_stats(episodes: Sequence[Episode], batch: FlatBatch | None = None) -> dict[str, float]:
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
