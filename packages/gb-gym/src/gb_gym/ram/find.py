"""Find candidate RAM addresses in a recording by how their values move, as cheat finders do.

- x-progress: rises on turns with RIGHT held, falls on turns with LEFT held (`motion_scores`);
  single bytes, 16-bit pairs and page:offset pairs are tried. Steps larger than `max_step` are
  jumps (a respawn, a new level, a byte wrapping), left out of the vote and counted against.
- counters: change in the same direction on almost every turn whatever the buttons (frame
  counters, timers, RNGs): not progress, listed so they are not mistaken for it.
- lives: fall by 1 (or by 1 in BCD) at each marked death and change nowhere else.
- dying / level-complete flags: take a value at each marked death / level completion that they
  keep for a while, then leave, and have nowhere else.
- level number: rises by 1 after each marked level completion and changes nowhere else.

Event turns are the turns where the event shows on screen, as the user saw them; they may be off
by up to `window` turns. Series with exactly the same values are one candidate (`also`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .recording import Recording
from .series import Value, byte_values, pair_values, wrap8

MAX_STEP = 64  # largest plausible change of x-progress in one turn (a 15-frame turn at 4 px/frame)
EVENT_SPAN = 60  # turns after a death or level completion within which the game restarts (5 s of 5-frame turns)
TOP = 5
MAX_OTHER_LIVES_CHANGES = 3  # a lives byte may also move at an extra life or a new game


@dataclass
class Candidate:
    value: Value
    score: float
    evidence: str
    flag: int | None = None  # the value a flag takes at the event
    also: list[str] = field(default_factory=list)


@dataclass
class Findings:
    x_progress: list[Candidate]
    counters: list[Candidate]
    lives: list[Candidate]
    dying: list[Candidate]
    level_complete: list[Candidate]
    level: list[Candidate]
    resets: list[int]  # turns where the best x-progress candidate jumps back (deaths or new levels?)


def motion_scores(series: np.ndarray, motion: np.ndarray, max_step: int = MAX_STEP) -> tuple[np.ndarray, dict]:
    """Score in [-1, 1] per column: on right turns the share that rose less the share that fell or
    jumped, the same with the directions swapped on left turns, averaged; jumps on other turns
    count against it too."""
    d = np.diff(series, axis=0)
    jump = np.abs(d) > max_step
    s = np.sign(d) * ~jump
    right, left, other = motion > 0, motion < 0, motion == 0
    st = {
        "up_r": (s[right] > 0).sum(0), "down_r": (s[right] < 0).sum(0), "n_r": int(right.sum()),
        "down_l": (s[left] < 0).sum(0), "up_l": (s[left] > 0).sum(0), "n_l": int(left.sum()),
        "jumps": jump.sum(0),
    }
    score = (st["up_r"] - st["down_r"] - jump[right].sum(0)) / max(1, st["n_r"])
    if st["n_l"]:
        score = (score + (st["down_l"] - st["up_l"] - jump[left].sum(0)) / st["n_l"]) / 2
    return score - jump[other].sum(0) / max(1, st["n_r"] + st["n_l"]), st


KIND_ORDER = {"u16le": 0, "u16be": 1, "page": 2, "u8": 3}  # on a tie, the wider reading (a byte may not have wrapped yet)


def _dedupe(cands: list[Candidate], series: dict[int, np.ndarray], top: int) -> list[Candidate]:
    """Keep the first of candidates with identical series; the others go to its `also`."""
    out: list[tuple[Candidate, np.ndarray]] = []
    for i, c in enumerate(cands):
        twin = next((o for o, s in out if np.array_equal(s, series[i])), None)
        if twin is not None:
            twin.also.append(c.value.label)
        elif len(out) < top:
            out.append((c, series[i]))
    return [c for c, _ in out]


def _ranked(values: list[Value], series: np.ndarray, keys: list[tuple], evidence, top: int,
            scores=None, flags=None) -> list[Candidate]:
    """Candidates sorted by `keys` (smallest first, then by address), duplicates folded."""
    order = sorted(range(len(values)), key=lambda i: (keys[i], values[i].addrs))
    cands = [Candidate(values[i], 0.0 if scores is None else float(scores[i]), evidence(i),
                       None if flags is None else flags[i]) for i in order]
    return _dedupe(cands, {k: series[:, i] for k, i in enumerate(order)}, top)


def find_x_progress(rec: Recording, max_step: int = MAX_STEP, top: int = TOP) -> tuple[list[Candidate], np.ndarray]:
    motion = rec.motion()
    if not (motion > 0).any():
        raise ValueError("the recording has no turn with RIGHT held: x-progress cannot be told from motion")
    bytes_, b_series = byte_values(rec)
    # page:offset pairs take their low byte from bytes that move with the motion once wraps are undone
    wrapped = np.cumsum(np.vstack([b_series[:1] * 0, wrap8(np.diff(b_series, axis=0))]), axis=0)
    lo_score, _ = motion_scores(wrapped, motion, max_step)
    cols = {int(a): i for i, a in enumerate(rec.addresses())}
    page_lo = [cols[bytes_[i].addrs[0]] for i in np.argsort(-lo_score)[:16] if lo_score[i] > 0.3]
    pairs, p_series = pair_values(rec, page_lo)
    values, series = bytes_ + pairs, np.hstack([b_series, p_series])
    score, st = motion_scores(series, motion, max_step)

    def evidence(i: int) -> str:
        jumps = np.flatnonzero(np.abs(np.diff(series[:, i])) > max_step) + 1
        where = f" (turns {', '.join(map(str, jumps[:4]))}{', ...' if len(jumps) > 4 else ''})" if len(jumps) else ""
        return (f"right turns: up {st['up_r'][i]}/{st['n_r']}, down {st['down_r'][i]}; left turns: down "
                f"{st['down_l'][i]}/{st['n_l']}, up {st['up_l'][i]}; {st['jumps'][i]} jumps{where}; "
                f"values {series[:, i].min()}..{series[:, i].max()}")

    keys = [(-round(float(score[i]), 6), int(st["jumps"][i]), KIND_ORDER[v.kind]) for i, v in enumerate(values)]
    best = _ranked(values, series, keys, evidence, top, scores=score)
    best = [c for c in best if c.score > 0]
    resets: np.ndarray = np.zeros(0, np.int64)
    if best:
        i = values.index(best[0].value)
        resets = np.flatnonzero(np.diff(series[:, i]) < -max_step) + 1
    return best, resets


def find_counters(rec: Recording, top: int = TOP) -> list[Candidate]:
    values, series = byte_values(rec)
    d = wrap8(np.diff(series, axis=0))
    up, down = (d > 0).mean(0), (d < 0).mean(0)
    share = np.maximum(up, down)
    per_frame = (d == rec.turn_frames[1:, None]).mean(0)

    def evidence(i: int) -> str:
        way = "rises" if up[i] >= down[i] else "falls"
        extra = "; +1 per frame (a frame counter)" if per_frame[i] > 0.9 else ""
        return f"{way} on {share[i]:.0%} of turns whatever the buttons{extra}"

    keep = share >= 0.9
    idx = np.flatnonzero(keep)
    return _ranked([values[i] for i in idx], series[:, idx], [(-share[i],) for i in idx],
                   lambda k: evidence(idx[k]), top)


def _windows(turns: list[int], window: int, n: int) -> np.ndarray:
    """Mask over the T turns (1..T) within `window` of any of `turns`."""
    mask = np.zeros(n, bool)
    for t in turns:
        mask[max(0, t - 1 - window): min(n, t + window)] = True
    return mask


def find_lives(rec: Recording, deaths: list[int], window: int, top: int = TOP) -> list[Candidate]:
    values, series = byte_values(rec)
    d = np.diff(series, axis=0)
    near = _windows(deaths, window, len(d))
    bcd = (series >> 4) * 10 + (series & 0x0F)  # some games count lives in BCD (Super Mario Land)
    drop = (d == -1) | (np.diff(bcd, axis=0) == -1)
    hits = sum(drop[max(0, t - 1 - window): t + window].any(0) for t in deaths)
    other = ((d != 0) & ~near[:, None]).sum(0)
    ok = (hits == len(deaths)) & (series.max(0) <= 0x99) & (other <= MAX_OTHER_LIVES_CHANGES)
    idx = np.flatnonzero(ok)

    def evidence(k: int) -> str:
        i = idx[k]
        falls = np.flatnonzero(drop[:, i] & near) + 1
        return (f"{series[0, i]} at the start; falls by 1 at turn(s) {', '.join(map(str, falls))}; "
                f"{other[i]} change(s) away from the deaths")

    keys = [(int(other[i]),) for i in idx]
    return _ranked([values[i] for i in idx], series[:, idx], keys, evidence, top)


def find_flags(rec: Recording, events: list[int], window: int, top: int = TOP) -> list[Candidate]:
    """Bytes that take a value at each event, keep it at least 2 turns, then leave it, and have it
    nowhere else; the fewer distinct values a byte takes, the more flag-like."""
    values, series = byte_values(rec)
    T = len(series) - 1
    found = []
    for c in range(series.shape[1]):
        v = series[:, c]
        inside = np.zeros(T + 1, bool)
        flag_values, runs = set(), []
        for t in events:
            changes = [u for u in range(max(1, t - window), min(T, t + window) + 1) if v[u] != v[u - 1]]
            if not changes:
                break
            start = changes[0]
            end = start
            while end + 1 <= T and v[end + 1] == v[start]:
                end += 1
            if end == T or end == start:  # never left (a counter's new value) or gone at once (a timer)
                break
            inside[start: end + 1] = True
            flag_values.add(int(v[start]))
            runs.append((start, end - start + 1))
        else:
            if not np.isin(v[~inside], list(flag_values)).any():
                found.append((c, flag_values, runs))

    def evidence(k: int) -> str:
        c, fv, runs = found[k]
        where = ", ".join(f"turn {s} for {n} turns" for s, n in runs)
        return f"== {', '.join(map(str, sorted(fv)))} from {where}; values {sorted(set(series[:, c].tolist()))[:8]}"

    keys = [(len(np.unique(series[:, c])),) for c, _, _ in found]
    flags = [min(fv) for _, fv, _ in found]
    idx = [c for c, _, _ in found]
    return _ranked([values[i] for i in idx], series[:, idx], keys, evidence, top, flags=flags)


def find_level_number(rec: Recording, levels: list[int], top: int = TOP) -> list[Candidate]:
    values, series = byte_values(rec)
    d = np.diff(series, axis=0)
    after = np.zeros(len(d), bool)
    for t in levels:
        after[max(0, t - 1): t + EVENT_SPAN] = True
    rises = ((d == 1) & after[:, None]).sum(0)
    other = ((d != 0) & ~((d == 1) & after[:, None])).sum(0)
    idx = np.flatnonzero((rises == len(levels)) & (other == 0))

    def evidence(k: int) -> str:
        i = idx[k]
        turns = np.flatnonzero(d[:, i] == 1) + 1
        return f"{series[0, i]} at the start; +1 at turn(s) {', '.join(map(str, turns))}; no other change"

    return _ranked([values[i] for i in idx], series[:, idx], [()] * len(idx), evidence, top)


def find(rec: Recording, deaths: list[int] = (), levels: list[int] = (), window: int = 3,
         max_step: int = MAX_STEP, top: int = TOP) -> Findings:
    T = rec.turns
    for name, turns in (("--deaths", deaths), ("--levels", levels)):
        bad = [t for t in turns if not 1 <= t <= T]
        if bad:
            raise ValueError(f"{name} turn(s) {bad} are outside the recording (turns 1..{T})")
    x, resets = find_x_progress(rec, max_step, top)
    return Findings(
        x_progress=x,
        counters=find_counters(rec, top),
        lives=find_lives(rec, list(deaths), window, top) if deaths else [],
        dying=find_flags(rec, list(deaths), window, top) if deaths else [],
        level_complete=find_flags(rec, list(levels), window, top) if levels else [],
        level=find_level_number(rec, list(levels), top) if levels else [],
        resets=[int(t) for t in resets],
    )
