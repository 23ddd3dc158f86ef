"""Check a `GameSpec`'s RAM formulas (or an x-progress formula given as text) against a recording.

The spec's `read` runs on every recorded row (the RAM is replayed, not the game). Its x-progress
must rise on right turns and fall on left turns like the finder's candidates do, and it may jump
only in the turns after a death or a level completion: the spec's own, or those the user marked. Its lives and level
complete are compared with the bytes the finder picks at the spec's own event turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from ..spec import GameSpec
from .find import EVENT_SPAN, MAX_STEP, find_flags, find_lives, find_x_progress, motion_scores
from .recording import RecordedGameBoy, RecordedMemory, Recording

FALLS_ALLOWED = 0.02  # share of settled right turns on which x-progress may fall (a bump, a knock-back)


@dataclass
class Check:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)

    def problem(self, line: str) -> None:
        self.problems.append(line)
        self.lines.append("PROBLEM: " + line)


def eval_formula(rec: Recording, formula: str) -> np.ndarray:
    """`formula` is a Python expression over `mem[ADDR]` (each an int64 series), e.g.
    "mem[0xD053] * 16 + (mem[0xFF43] - 7) % 16 + mem[0xD05C]"."""
    try:
        value = eval(formula, {"__builtins__": {}}, {"mem": RecordedMemory(rec), "abs": abs})
    except ValueError as e:  # an address the recording does not have
        raise ValueError(f"--formula {formula!r}: {e}") from None
    except Exception as e:
        raise ValueError(f"cannot evaluate --formula {formula!r}: {type(e).__name__}: {e}") from None
    return np.broadcast_to(np.asarray(value, dtype=np.int64), (len(rec.ram),))


def spec_series(rec: Recording, spec: GameSpec) -> dict[str, np.ndarray]:
    """The spec's `read` on every row, with level complete decided as the env decides it."""
    states = [spec.read(RecordedGameBoy(rec, t)) for t in range(len(rec.ram))]
    complete = [states[0].level_complete] + [spec.level_complete(a, b) for a, b in pairwise(states)]
    return {
        "x": np.array([s.x_progress for s in states]),
        "lives": np.array([s.lives for s in states]),
        "dying": np.array([s.dying for s in states]),
        "level_complete": np.array(complete),
        "level": np.array([s.level for s in states]),
    }


def _starts(flag: np.ndarray) -> list[int]:
    return [int(t) for t in np.flatnonzero(flag[1:] & ~flag[:-1]) + 1]


def _ends(flag: np.ndarray) -> list[int]:
    return [int(t) for t in np.flatnonzero(flag[:-1] & ~flag[1:]) + 1]


def _turns(turns, limit: int = 8) -> str:
    turns = list(turns)
    return ", ".join(map(str, turns[:limit])) + (", ..." if len(turns) > limit else "") if turns else "none"


def check_x(rec: Recording, x: np.ndarray, name: str, events: list[int], out: Check, window: int,
            max_step: int = MAX_STEP) -> None:
    motion = rec.motion()
    score, st = motion_scores(x[:, None], motion, max_step)
    d = np.diff(x)
    settled = np.flatnonzero((motion > 0) & np.r_[False, motion[:-1] > 0])  # right after right: no momentum left
    falls = [int(i) + 1 for i in settled if -max_step <= d[i] < 0]
    jumps = np.flatnonzero(np.abs(d) > max_step) + 1
    unexplained = [int(t) for t in jumps if not any(-window <= t - e <= EVENT_SPAN for e in events)]
    out.say(f"{name}: motion score {score[0]:.3f}; right turns: up {st['up_r'][0]}/{st['n_r']}, down "
            f"{st['down_r'][0]}; left turns: down {st['down_l'][0]}/{st['n_l']}, up {st['up_l'][0]}; "
            f"{len(jumps)} jumps (turns {_turns(jumps)})")
    steps = d[settled][np.abs(d[settled]) <= max_step]
    if len(steps):
        out.say(f"  steps on turns that held RIGHT after RIGHT: median {np.median(steps):g}, range {steps.min()}.."
                f"{steps.max()} (compare with how far the player moves on screen in a turn)")
    if len(falls) > FALLS_ALLOWED * max(1, len(settled)):
        steps = ", ".join(f"turn {t}: {x[t - 1]} -> {x[t]}" for t in falls[:6])
        out.problem(f"{name} falls on {len(falls)} of {len(settled)} turns that held RIGHT after RIGHT ({steps})")
    if unexplained:
        steps = ", ".join(f"turn {t}: {x[t - 1]} -> {x[t]}" for t in unexplained[:6])
        out.problem(f"{name} jumps where no death or level completion precedes it (the spec's, or --deaths / --levels) ({steps})")
    best, _ = find_x_progress(rec, max_step, top=1)
    if best:
        b = best[0]
        cand = eval_formula(rec, b.value.expr)
        same = np.array_equal(x - x[0], cand - cand[0])
        out.say(f"  best candidate from motion: {b.value.label} (score {b.score:.3f})"
                + ("; the formula equals it (up to an offset)" if same else ""))
        if not same and b.score > score[0] + 0.05:
            out.problem(f"{name} follows the motion worse than {b.value.label} ({score[0]:.3f} < {b.score:.3f})")


def check_spec(rec: Recording, spec: GameSpec | None = None, formula: str | None = None, deaths: list[int] = (),
               levels: list[int] = (), window: int = 3, max_step: int = MAX_STEP) -> Check:
    """`deaths` / `levels`: event turns the user marked, where x-progress may jump (with a spec, its own
    signals are used as well)."""
    out = Check()
    if spec is None and formula is None:
        raise ValueError("give --spec GAME and/or --formula EXPR to check")
    events = list(deaths) + list(levels)
    if spec is not None:
        sig = spec_series(rec, spec)
        spec_deaths = sorted(set(_starts(sig["dying"])) | set(_starts(np.r_[False, np.diff(sig["lives"]) < 0])))
        spec_levels = _starts(sig["level_complete"])
        changed = [int(t) for t in np.flatnonzero(sig["level"][1:] != sig["level"][:-1]) + 1]
        out.say(f"{spec.display_name} spec on {rec.turns} turns: deaths at turns {_turns(spec_deaths)}; "
                f"level complete at {_turns(spec_levels)}; level changes at {_turns(changed)}")
        for what, marked, seen in (("death", deaths, spec_deaths), ("level completion", levels, spec_levels)):
            missed = [t for t in marked if not any(abs(t - u) <= window for u in seen)]
            if missed:
                out.problem(f"you marked a {what} at turn(s) {_turns(missed)}; the spec reports none there")
        # x-progress may jump where the spec's own signals change: deaths, respawns, level ends and starts
        events += spec_deaths + spec_levels + changed + _ends(sig["dying"]) + _ends(sig["level_complete"])
        check_x(rec, sig["x"], "spec x-progress", events, out, window, max_step)
        _check_lives(rec, sig["lives"], spec_deaths or list(deaths), window, out)
        _check_levels(rec, spec_levels or list(levels), window, out)
    if formula is not None:
        check_x(rec, eval_formula(rec, formula), f"formula {formula}", events, out, window, max_step)
    return out


def _check_lives(rec: Recording, lives: np.ndarray, deaths: list[int], window: int, out: Check) -> None:
    if not deaths:
        out.say("lives: no death in this recording, nothing to compare (play one to check lives)")
        return
    found = find_lives(rec, deaths, window, top=1)
    falls = [int(t) for t in np.flatnonzero(np.diff(lives) < 0) + 1]
    if not found:
        out.problem(f"lives: no byte falls by 1 at the spec's deaths (turns {_turns(deaths)})")
        return
    cand = found[0]
    series = eval_formula(rec, cand.value.expr)
    cand_falls = [int(t) for t in np.flatnonzero(np.diff(series) < 0) + 1]
    out.say(f"lives: spec falls at turns {_turns(falls)}; best candidate {cand.value.label} falls at {_turns(cand_falls)}")
    if falls != cand_falls:
        out.problem(f"lives: the spec's lives fall at turns {_turns(falls)}, {cand.value.label} at {_turns(cand_falls)}")


def _check_levels(rec: Recording, levels: list[int], window: int, out: Check) -> None:
    if not levels:
        out.say("level complete: the spec reports none in this recording")
        return
    found = find_flags(rec, levels, window, top=1)
    if found:
        out.say(f"level complete: best flag candidate at the spec's level completions: {found[0].value.label} "
                f"== {found[0].flag} ({found[0].evidence})")
    else:
        out.problem(f"level complete: no byte flags the spec's level completions (turns {_turns(levels)})")
