"""Learning curves: one JSON line per evaluation, the same format for every method.

A line: {"method", "seed", "samples", "level", "mean", "se", "n"} where `samples`
counts environment turns (state-action pairs) used for training so far and
`mean`/`se` are the x-progress over `n` evaluation episodes. vlm-rl's trainer
and the SB3 baselines both write it, so one plot compares them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from .stats import mean_se


class CurveWriter:
    def __init__(self, path: str | Path, method: str, seed: int):
        self.path, self.method, self.seed = Path(path), method, seed
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, samples: int, per_level: dict[str, Sequence[float]]) -> None:
        with self.path.open("a") as f:
            for level, values in per_level.items():
                s = mean_se(list(values))
                row = {"method": self.method, "seed": self.seed, "samples": int(samples), "level": level,
                       "mean": s.mean, "se": s.se, "n": s.n}
                f.write(json.dumps(row) + "\n")


def read_curves(paths: Iterable[str | Path]) -> list[dict]:
    rows = []
    for p in paths:
        for line in Path(p).read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


def average_over_levels(rows: list[dict]) -> dict[tuple[str, int], list[tuple[int, float]]]:
    """(method, seed) -> [(samples, mean progress over levels)], sorted by samples."""
    acc: dict[tuple[str, int, int], list[float]] = defaultdict(list)
    for r in rows:
        acc[(r["method"], r["seed"], r["samples"])].append(r["mean"])
    out: dict[tuple[str, int], list[tuple[int, float]]] = defaultdict(list)
    for (m, s, n), v in sorted(acc.items()):
        out[(m, s)].append((n, sum(v) / len(v)))
    return dict(out)


def samples_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    """The first evaluated sample count whose progress reaches `target` (None if never)."""
    for n, v in curve:
        if v >= target:
            return n
    return None


def plot_curves(rows: list[dict], out: str | Path, title: str = "", target: float | None = None) -> Path:
    """Mean over seeds (line) and min-max over seeds (band) of level-averaged progress per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    by_method: dict[str, list[list[tuple[int, float]]]] = defaultdict(list)
    for (method, _), curve in average_over_levels(rows).items():
        by_method[method].append(curve)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for method, curves in sorted(by_method.items()):
        grid = sorted({n for c in curves for n, _ in c})
        ys = np.array([np.interp(grid, [n for n, _ in c], [v for _, v in c]) for c in curves])
        ax.plot(grid, ys.mean(0), label=f"{method} ({len(curves)} seed{'s' * (len(curves) > 1)})")
        if len(curves) > 1:
            ax.fill_between(grid, ys.min(0), ys.max(0), alpha=0.2)
    if target is not None:
        ax.axhline(target, color="gray", ls="--", lw=1, label=f"target {target:g}")
    ax.set_xlabel("training samples (turns)")
    ax.set_ylabel("x-progress (mean over levels)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
