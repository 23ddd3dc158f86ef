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
        return self.format()

    def format(self, digits: int = 1) -> str:
        return f"{self.mean:.{digits}f} ± {self.se:.{digits}f}"


@dataclass(frozen=True)
class Metric:
    """One more per-episode metric for `write_tables`, beside the main one: values[row][level] = per-episode
    values, shown under `heading` with `digits` decimals."""

    heading: str
    values: dict[str, dict[str, Sequence[float]]]
    digits: int = 1


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


def markdown_table(results: dict[str, dict[str, Sequence[float]]], title: str = "Model", digits: int = 1) -> str:
    cols, rows = table_rows(results)
    lines = ["| " + " | ".join([title, *cols]) + " |", "|" + "---|" * (len(cols) + 1)]
    for name, cells in zip(results, rows, strict=True):
        lines.append("| " + " | ".join([name, *(c.format(digits) for c in cells)]) + " |")
    return "\n".join(lines)


def _cell(v: float | int | None, digits: int = 3) -> str:
    return "" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def scalar_table(scalars: dict[str, dict[str, float | int | None]], title: str = "Model") -> str:
    """A Markdown table of per-row numbers (None: not measured)."""
    keys = list(next(iter(scalars.values()), {}))
    lines = ["| " + " | ".join([title, *keys]) + " |", "|" + "---|" * (len(keys) + 1)]
    lines += ["| " + " | ".join([name, *(_cell(row.get(k)) or "—" for k in keys)]) + " |" for name, row in scalars.items()]
    return "\n".join(lines)


def tables_markdown(results: dict[str, dict[str, Sequence[float]]], title: str = "Model",
                    extra: dict[str, Metric] | None = None, scalars: dict[str, dict[str, float | int | None]] | None = None,
                    scalars_heading: str = "") -> str:
    """The main table, then one table per extra metric under its heading, then the per-row scalars."""
    parts = [markdown_table(results, title)]
    for m in (extra or {}).values():
        parts.append(f"{m.heading}:\n\n{markdown_table(m.values, title, m.digits)}")
    if scalars:
        parts.append(f"{scalars_heading}:\n\n{scalar_table(scalars, title)}")
    return "\n\n".join(parts)


def write_tables(results: dict[str, dict[str, Sequence[float]]], out_dir: Path, stem: str, title: str = "Model",
                 extra: dict[str, Metric] | None = None, scalars: dict[str, dict[str, float | int | None]] | None = None,
                 scalars_heading: str = "") -> dict[str, Path]:
    """Write `stem`.md, .csv and .json (the JSON also keeps every per-episode value).

    `results` is the main metric (columns per level and 'Avg.', then n); each `extra` metric adds a table
    to the Markdown, columns '<key> <level> mean/se' to the CSV and `row[key] = {summary, values}` to
    the JSON; `scalars[row]` (numbers per row, not per episode) add a table, columns and `row[key]`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = extra or {}
    cols, rows = table_rows(results)
    for key, m in extra.items():
        if list(m.values) != list(results):
            raise ValueError(f"metric {key!r} has rows {list(m.values)}, the main table {list(results)}: give every row each metric")
    more = {key: (table_rows(m.values)[0], dict(zip(m.values, table_rows(m.values)[1], strict=True)))
            for key, m in extra.items()}
    scalar_keys = list(next(iter(scalars.values()), {})) if scalars else []
    md = out_dir / f"{stem}.md"
    md.write_text(tables_markdown(results, title, extra, scalars, scalars_heading) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([title] + [f"{c} {s}" for c in cols for s in ("mean", "se")] + ["n"]
               + [f"{key} {c} {s}" for key, (cs, _) in more.items() for c in cs for s in ("mean", "se")] + scalar_keys)
    for name, cells in zip(results, rows, strict=True):
        w.writerow([name] + [f"{v:.4f}" for c in cells for v in (c.mean, c.se)] + [cells[-1].n]
                   + [f"{v:.4f}" for _, rs in more.values() for c in rs[name] for v in (c.mean, c.se)]
                   + [_cell(scalars[name].get(k), 4) for k in scalar_keys])  # type: ignore[index]
    csv_path = out_dir / f"{stem}.csv"
    csv_path.write_text(buf.getvalue())

    def entry(per: dict[str, Sequence[float]], cs: list[str], cells: list[MeanSE]) -> dict:
        return {"summary": {c: asdict(s) for c, s in zip(cs, cells, strict=True)}, "values": {k: list(v) for k, v in per.items()}}

    table = {}
    for (name, per), cells in zip(results.items(), rows, strict=True):
        table[name] = entry(per, cols, cells)
        for key, m in extra.items():
            table[name][key] = entry(m.values[name], more[key][0], more[key][1][name])
        table[name].update(scalars[name] if scalars else {})
    js = out_dir / f"{stem}.json"
    js.write_text(json.dumps(table, indent=1))
    return {"md": md, "csv": csv_path, "json": js}
