"""Means with standard errors, and result tables in Markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class MeanSE:
    mean: float
    se: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.1f} ± {self.se:.1f}"


def mean_se(values: Sequence[float]) -> MeanSE:
    """Mean and standard error of the mean (sample std with ddof=1 over sqrt(n); 0 for n < 2)."""
    n = len(values)
    if n == 0:
        return MeanSE(float("nan"), float("nan"), 0)
    m = sum(values) / n
    if n < 2:
        return MeanSE(m, 0.0, n)
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return MeanSE(m, math.sqrt(var / n), n)


def table_rows(results: dict[str, dict[str, Sequence[float]]]) -> tuple[list[str], list[list[MeanSE]]]:
    """results[row][level] = per-episode values → (levels, rows of MeanSE with an 'Avg.' column last).

    'Avg.' pools the per-level means (each level weighs the same, as in the paper's Table 2)
    with the standard error of that average.
    """
    levels = sorted({lv for per in results.values() for lv in per})
    rows = []
    for per in results.values():
        cells = [mean_se(per.get(lv, [])) for lv in levels]
        k = len(cells)
        avg = MeanSE(
            sum(c.mean for c in cells) / k,
            math.sqrt(sum(c.se**2 for c in cells)) / k,
            sum(c.n for c in cells),
        )
        rows.append(cells + [avg])
    return levels + ["Avg."], rows


def markdown_table(results: dict[str, dict[str, Sequence[float]]], title: str = "Model") -> str:
    cols, rows = table_rows(results)
    lines = ["| " + " | ".join([title, *cols]) + " |", "|" + "---|" * (len(cols) + 1)]
    for name, cells in zip(results, rows, strict=True):
        lines.append("| " + " | ".join([name, *(str(c) for c in cells)]) + " |")
    return "\n".join(lines)


def write_tables(results: dict[str, dict[str, Sequence[float]]], out_dir: Path, stem: str, title: str = "Model") -> dict[str, Path]:
    """Write `stem`.md, .csv and .json (the JSON also keeps every per-episode value)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cols, rows = table_rows(results)
    md = out_dir / f"{stem}.md"
    md.write_text(markdown_table(results, title) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([title] + [f"{c} {s}" for c in cols for s in ("mean", "se")] + ["n"])
    for name, cells in zip(results, rows, strict=True):
        w.writerow([name] + [f"{v:.4f}" for c in cells for v in (c.mean, c.se)] + [cells[-1].n])
    csv_path = out_dir / f"{stem}.csv"
    csv_path.write_text(buf.getvalue())
    js = out_dir / f"{stem}.json"
    js.write_text(
        json.dumps(
            {
                name: {"summary": {c: asdict(s) for c, s in zip(cols, cells, strict=True)}, "values": {k: list(v) for k, v in per.items()}}
                for (name, per), cells in zip(results.items(), rows, strict=True)
            },
            indent=1,
        )
    )
    return {"md": md, "csv": csv_path, "json": js}
