"""Metrics to TensorBoard and to a JSON-lines file (one line per logging step)."""

from __future__ import annotations

import json
import math
from pathlib import Path


class MetricLogger:
    def __init__(self, out_dir: str | Path, enabled: bool = True):
        self.enabled = enabled
        self.out_dir = Path(out_dir)
        self._tb = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._tb = SummaryWriter(str(self.out_dir / "tb"))
            self._jsonl = (self.out_dir / "metrics.jsonl").open("a")

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if not self.enabled:
            return
        clean = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        for k, v in clean.items():
            self._tb.add_scalar(k, v, step)
        self._jsonl.write(json.dumps({"step": step, **clean}) + "\n")
        self._jsonl.flush()
        self._tb.flush()

    def close(self) -> None:
        if self.enabled:
            self._tb.close()
            self._jsonl.close()


def read_metrics(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
