"""Divergence guards: a non-finite loss, gradient norm or parameter stops training at once, naming where.

Nothing non-finite is ever saved: `save_policy` checks the weights first, and the trainers check
their losses and gradient norms before every optimiser step.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class DivergenceError(RuntimeError):
    pass


def check_finite(what: str, value: float | torch.Tensor, where: str, hint: str) -> None:
    """Raise DivergenceError if `value` (a loss or a gradient norm) is NaN or infinite."""
    v = float(value.detach()) if torch.is_tensor(value) else float(value)
    if not math.isfinite(v):
        raise DivergenceError(
            f"{where}: the {what} is {v}: training diverged, and nothing from this step was saved. "
            f"Likely cause: {hint}. Resume from the last checkpoint (resume=true) with a lower learning rate."
        )


def nonfinite_parameters(named: Iterable[tuple[str, torch.Tensor]]) -> list[str]:
    """Names of the tensors holding a NaN or an infinity."""
    return [n for n, p in named if not bool(torch.isfinite(p.detach()).all())]


def check_parameters(named: Iterable[tuple[str, torch.Tensor]], where: str, hint: str) -> None:
    bad = nonfinite_parameters(named)
    if bad:
        raise DivergenceError(
            f"{where}: {len(bad)} weight tensors hold NaN or inf (first: {bad[0]}): training diverged, and they "
            f"were not saved. Likely cause: {hint}. Resume from the last checkpoint (resume=true) with a lower "
            "learning rate."
        )
