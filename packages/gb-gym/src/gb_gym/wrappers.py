"""Wrappers for training across levels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np


class LevelSampler(gym.Wrapper):
    """Starts each episode on a level drawn from `levels` (uniformly, or by `weights`).

    A level passed in `reset(options={"level": ...})` still wins. `set_weights`
    lets a curriculum running in another process steer it (e.g. through
    `VecEnv.env_method("set_weights", w)`).
    """

    def __init__(self, env: gym.Env, levels: Sequence[str], weights: Sequence[float] | None = None):
        super().__init__(env)
        spec = env.unwrapped.spec_game
        self.levels = [spec.check_level(lv) for lv in levels]
        if not self.levels:
            raise ValueError("LevelSampler needs at least one level")
        self.set_weights(weights)
        self._rng: np.random.Generator | None = None

    def set_weights(self, weights: Sequence[float] | None) -> None:
        if weights is None:
            self.weights = [1 / len(self.levels)] * len(self.levels)
            return
        if len(weights) != len(self.levels) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"weights {list(weights)} must be {len(self.levels)} non-negative numbers with a positive sum")
        total = float(sum(weights))
        self.weights = [w / total for w in weights]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)  # level draws reproducible from the reset seed
        if "level" not in options and "state" not in options:
            options["level"] = self.levels[int(self._rng.choice(len(self.levels), p=self.weights))]
        return self.env.reset(seed=seed, options=options)
