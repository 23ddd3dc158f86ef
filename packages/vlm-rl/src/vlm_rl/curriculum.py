"""Multi-level auto-curriculum by inverse trajectory length (paper §6.2, Fig. 5).

Levels whose trajectories are long (easy: the agent survives) would flood the
turn-level loss under uniform level sampling. Sampling level k with weight
w_k ∝ 1 / N_k, N_k = mean trajectory length of level k in the last batch,
roughly equalises the number of turns each level contributes.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np

Mode = Literal["inverse_length", "uniform"]


class AutoCurriculum:
    """Level sampler whose weights follow 1 / (mean trajectory length) of the last batch.

    Args:
        levels: the level keys (any hashable, e.g. "1-1" or (1, 1)), in a fixed order.
        mode: "inverse_length" (training) or "uniform" (validation; ``update`` is a no-op).

    Weights start uniform. ``update`` replaces them from one batch (no running
    average, as the paper). Lengths are what the trainer counts: the authors
    count the turns kept for the actor update. A level absent from the batch
    gets the mean weight of the present ones (before normalising), so it stays
    in play. A mean length below 1 is treated as 1 so weights stay finite.
    """

    def __init__(self, levels: Sequence[Hashable], mode: Mode = "inverse_length"):
        if mode not in ("inverse_length", "uniform"):
            raise ValueError(f"mode must be 'inverse_length' or 'uniform', got {mode!r}")
        self.levels = list(levels)
        if not self.levels:
            raise ValueError("levels must not be empty")
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels must be distinct, got {self.levels}")
        self.mode = mode
        self._index = {lv: i for i, lv in enumerate(self.levels)}
        self._w = np.full(len(self.levels), 1.0 / len(self.levels))

    @property
    def weights(self) -> dict[Hashable, float]:
        """{level: weight}, summing to 1 (for logging)."""
        return {lv: float(w) for lv, w in zip(self.levels, self._w, strict=True)}

    def update(self, levels: Sequence[Hashable], lengths: Sequence[float]) -> dict[Hashable, float]:
        """Set weights from one batch: ``levels[i]`` and ``lengths[i]`` of trajectory i.

        Returns the new ``weights``. An empty batch leaves them unchanged.
        """
        if len(levels) != len(lengths):
            raise ValueError(f"levels ({len(levels)}) and lengths ({len(lengths)}) must have the same length")
        if self.mode == "uniform" or len(levels) == 0:
            return self.weights
        unknown = {lv for lv in levels if lv not in self._index}
        if unknown:
            raise ValueError(f"unknown levels {sorted(map(str, unknown))}; known: {self.levels}")
        idx = np.array([self._index[lv] for lv in levels])
        lens = np.asarray(lengths, dtype=np.float64)
        if (lens < 0).any():
            raise ValueError("lengths must be >= 0")
        k = len(self.levels)
        count = np.bincount(idx, minlength=k)
        present = count > 0
        mean_len = np.bincount(idx, weights=lens, minlength=k)[present] / count[present]
        raw = np.empty(k)
        raw[present] = 1.0 / np.maximum(mean_len, 1.0)
        raw[~present] = raw[present].mean()
        self._w = raw / raw.sum()
        return self.weights

    def sample(self, n: int, rng: np.random.Generator) -> list[Hashable]:
        """Levels for the next ``n`` trajectories, in random order.

        Counts use largest-remainder allocation (floor(n·w_k), then one more to the
        largest remainders, ties broken at random): each level gets n·w_k rounded
        up or down, so small batches follow the weights without multinomial noise.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        exact = n * self._w
        counts = np.floor(exact).astype(int)
        rest = n - counts.sum()
        if rest > 0:
            perm = rng.permutation(len(self.levels))  # random tie-break
            by_rem = perm[np.argsort(-(exact - counts)[perm], kind="stable")]
            counts[by_rem[:rest]] += 1
        out = np.repeat(np.arange(len(self.levels)), counts)
        rng.shuffle(out)
        return [self.levels[i] for i in out]

    def state_dict(self) -> dict:
        return {"levels": list(self.levels), "mode": self.mode, "weights": self._w.tolist()}

    def load_state_dict(self, state: dict) -> None:
        if list(state["levels"]) != self.levels:
            raise ValueError(f"checkpoint levels {state['levels']} differ from {self.levels}")
        self.mode = state["mode"]
        self._w = np.asarray(state["weights"], dtype=np.float64)
