"""How an evaluated episode played, beyond its x-progress: completion, deaths, progress within a frame
budget, and whether its answers jump where the RAM says a hazard is near.

A turn with 'a' held lasts 15 emulator frames, others 5 (`env.frame_skip`), so a policy that jumps every
turn plays up to 3x the game time of one that walks, within the same turn limit. Progress within a
fixed budget of emulator frames takes that away: it is the x-progress reached by the last turn that
ended within the budget.

Evaluation keeps each episode's `Play` (a few numbers per turn) and drops its frames and token ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gb_gym.spec import Scene

from .perception import scene_facts
from .rollout import Episode

HAZARD, CLEAR, OTHER = "hazard near", "clear ground", "other"


def situation(scene: Scene) -> str:
    """What the RAM says is ahead, for the jump rates: 'hazard near' (on the ground, a pit or wall within a
    jump's reach), 'clear ground' (on the ground, no hazard and no enemy near) or 'other' (in the air, an
    enemy near with no hazard, ...). Both kept cases stand on the ground, where pressing 'a' starts a jump."""
    facts = scene_facts(scene)
    if facts["stance"] != "ground":
        return OTHER
    if facts["hazard"].endswith("near"):
        return HAZARD
    return CLEAR if not facts["enemy"].endswith("near") else OTHER


def jumps(action) -> bool:
    """The answer holds 'a' (an invalid answer, None, presses nothing)."""
    return action is not None and "a" in action


@dataclass(frozen=True)
class Play:
    """What evaluation keeps of one episode once its steps are dropped."""

    progress: int
    complete: bool
    deaths: int
    frames: tuple[int, ...]  # emulator frames played by the end of each turn
    reached: tuple[int, ...]  # x-progress reached by the end of each turn
    situations: tuple[tuple[str, bool], ...]  # (situation, jumped) of each turn with a RAM scene

    def progress_within(self, budget: int) -> int:
        """The x-progress reached by the last turn that ended within `budget` emulator frames."""
        within = [x for f, x in zip(self.frames, self.reached, strict=True) if f <= budget]
        return within[-1] if within else 0


def play_of(ep: Episode) -> Play:
    """The episode's `Play`, from its steps (so before evaluation drops them)."""
    frames, total = [], 0
    for s in ep.steps:
        total += s.turn_frames
        frames.append(total)
    return Play(
        progress=ep.progress,
        complete=ep.end == "complete",
        deaths=sum(s.died for s in ep.steps),
        frames=tuple(frames),
        reached=tuple(s.max_x - ep.x_start for s in ep.steps),
        situations=tuple((situation(s.scene), jumps(s.action)) for s in ep.steps if s.scene is not None),
    )


def per_episode(plays_by_level: dict[str, Sequence[Play]], frame_budget: int) -> dict[str, dict[str, list[float]]]:
    """Per-episode values of each play metric, by level: {metric: {level: [value per episode]}}.
    Completion is in percent (0 or 100 per episode), so its mean is the completion rate in %."""
    return {
        "progress_budget": {lv: [float(p.progress_within(frame_budget)) for p in ps] for lv, ps in plays_by_level.items()},
        "completion": {lv: [100.0 * p.complete for p in ps] for lv, ps in plays_by_level.items()},
        "deaths": {lv: [float(p.deaths) for p in ps] for lv, ps in plays_by_level.items()},
    }


def jump_rates(plays: Sequence[Play]) -> dict[str, float | int | None]:
    """Share of answers holding 'a' with a hazard near and on clear ground (None where no turn was in that
    situation), and the turn counts they are over; an invalid answer counts as not jumping."""
    out: dict[str, float | int | None] = {}
    for key, name in ((HAZARD, "hazard_near"), (CLEAR, "clear_ground")):
        hits = [jumped for p in plays for sit, jumped in p.situations if sit == key]
        out[f"jump_{name}"] = sum(hits) / len(hits) if hits else None
        out[f"turns_{name}"] = len(hits)
    return out
