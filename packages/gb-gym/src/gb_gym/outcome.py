"""One turn's reward and termination from the game states before and after it: a pure function, so
the rules can be tested on synthetic states (see tests/test_outcome.py)."""

from __future__ import annotations

from dataclasses import dataclass

from .spec import GameState


@dataclass(frozen=True)
class TurnOutcome:
    reward: float
    terminated: bool
    died: bool  # a death began this turn (and was charged)
    in_death: bool  # carry into the next turn's `in_death`
    x_base: int  # carry into the next turn's `x_base`
    paid_progress: bool  # False on the turns of a death and the turn after it


def turn_outcome(
    prev: GameState,
    now: GameState,
    *,
    x_base: int,
    in_death: bool,
    frames: int,
    reward_scale: float = 1.0,
    reward_per: str = "turn",
    death_penalty: float = 0.0,
    terminate_on: str = "life",
) -> TurnOutcome:
    """`x_base`: the x the turn's progress is measured from; `in_death`: the previous turn showed a
    sign of death. `now.level_complete` must already hold the game's own rule (`GameSpec.level_complete`).

    A death shows as the dying flag or as fewer lives; games set them on different turns, so a death
    is charged `-death_penalty` once, on its first sign, and is over at the first turn showing neither.
    Its turns and that next one (the respawn, which moves x back) pay no progress.
    """
    sign = now.dying or now.lives < prev.lives
    died = sign and not in_death
    if sign or in_death:
        reward = -death_penalty if died else 0.0
        paid = False
    else:
        dx = now.x_progress - x_base
        reward = reward_scale * (dx / frames if reward_per == "frame" else dx)
        paid = True
    terminated = now.level_complete or now.game_over or (terminate_on == "life" and died)
    return TurnOutcome(float(reward), bool(terminated), died, sign, now.x_progress, paid)
