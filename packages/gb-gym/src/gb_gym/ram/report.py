"""The finder's results as text."""

from __future__ import annotations

from .find import Candidate, Findings
from .recording import Recording

SECTIONS = (
    ("x_progress", "x-progress (rises on RIGHT turns, falls on LEFT turns)"),
    ("lives", "lives (falls by 1 at each marked death, nowhere else)"),
    ("dying", "dying flag (a value held from each marked death, and nowhere else)"),
    ("level_complete", "level-complete flag (a value held from each marked level completion, and nowhere else)"),
    ("level", "level number (rises by 1 after each marked level completion)"),
    ("counters", "counters (move every turn whatever the buttons: timers, frame counters; not progress)"),
)


def _line(rank: int, c: Candidate) -> str:
    head = f"  {rank}. {c.value.label:<16}"
    if c.flag is not None:
        head += f" == {c.flag:<4}"
    elif c.score:
        head += f" score {c.score:.3f}"
    also = f"\n       same values at {', '.join(c.also[:6])}{' ...' if len(c.also) > 6 else ''}" if c.also else ""
    return f"{head}  {c.evidence}{also}"


def format_findings(rec: Recording, found: Findings, deaths: list[int], levels: list[int]) -> str:
    m = rec.motion()
    regions = ", ".join(f"0x{a:04X}-0x{b - 1:04X}" for a, b in rec.regions)
    out = [f"{rec.turns} turns (RIGHT held {(m > 0).sum()}, LEFT {(m < 0).sum()}, neither {(m == 0).sum()}); "
           f"RAM {regions}; marked deaths: {', '.join(map(str, deaths)) or 'none'}; "
           f"level completions: {', '.join(map(str, levels)) or 'none'}"]
    for key, title in SECTIONS:
        cands = getattr(found, key)
        if key in ("lives", "dying") and not deaths or key in ("level_complete", "level") and not levels:
            flag = "--deaths" if key in ("lives", "dying") else "--levels"
            out.append(f"{title}: not looked for; give the turns with {flag}")
            continue
        out.append(f"{title}:")
        out += [_line(i + 1, c) for i, c in enumerate(cands)] or ["  none found"]
    if found.resets:
        out.append(f"the best x-progress candidate jumps back at turn(s) {', '.join(map(str, found.resets))}: "
                   "deaths or new levels? Mark them with --deaths / --levels (`gb-gym ram record --gif` numbers the turns)")
    return "\n".join(out)
