"""Metrics to TensorBoard and to a JSON-lines file (one line per logging step).

A non-finite value is never dropped silently: its key is listed under `nonfinite` in the JSON line and
counted in TensorBoard's `nonfinite/count` (the trainers' divergence guards stop the run as well).
A resumed stage passes `resume_step`: rows logged after that step (the work being redone) are removed,
so every step appears once.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)


class MetricLogger:
    def __init__(self, out_dir: str | Path, enabled: bool = True, resume_step: int | None = None):
        self.enabled = enabled
        self.out_dir = Path(out_dir)
        self._tb = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = self.out_dir / "metrics.jsonl"
            purge = None
            if resume_step is not None and path.is_file():
                rows = [r for r in read_metrics(path) if r["step"] <= resume_step]
                path.write_text("".join(json.dumps(r) + "\n" for r in rows))
                purge = resume_step + 1
            self._tb = SummaryWriter(str(self.out_dir / "tb"), purge_step=purge)
            self._jsonl = path.open("a")

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        values = {k: float(v) for k, v in metrics.items() if v is not None}
        clean = {k: v for k, v in values.items() if math.isfinite(v)}
        bad = sorted(set(values) - set(clean))
        for k, v in clean.items():
            self._tb.add_scalar(k, v, step)
        row = {"step": step, **clean}
        if bad:
            log.warning("step %d: non-finite metrics %s", step, ", ".join(bad))
            row["nonfinite"] = bad
            self._tb.add_scalar("nonfinite/count", len(bad), step)
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()
        self._tb.flush()

    def close(self) -> None:
        if self.enabled:
            self._tb.close()
            self._jsonl.close()


def read_metrics(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
