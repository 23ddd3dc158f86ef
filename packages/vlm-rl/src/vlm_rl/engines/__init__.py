"""Rollout engines: what samples the actor's turns during RL, behind one interface (`rollout.engine`).

An engine takes an env's frames (`submit`), hands back the turns sampled so far (`poll`: prompt ids
as the actor's processor makes them, sampled ids, their log-probs) and follows the policy's weights
(`sync_weights`, after every actor update). The trainer never uses an engine's text: it keeps exactly
the sampled ids and re-scores them with its own model; `logprob_gap` measures how far the engine's
log-probs are from that re-scoring (the train/inference mismatch).

- `hf` (`HFEngine`): the actor's own batched `generate`, lock-step (one call over every waiting env).
- `vllm` (`VLLMEngine`, `vlm_rl.engines.vllm`): vLLM in the trainer's process, requests submitted as
  envs become ready and batched by vLLM while in flight.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np
import torch

from ..models.actor import Turn, VLMActor

log = logging.getLogger(__name__)


class Engine(Protocol):
    def submit(self, key: int, frames: np.ndarray) -> None: ...

    def poll(self) -> list[tuple[int, Turn]]: ...

    def sleep(self) -> None: ...  # before an update: free what memory the engine can

    def sync_weights(self) -> None: ...  # after an update: sample from the new weights (waking up if asleep)

    def close(self) -> None: ...


class HFEngine:
    """The actor's `act` (HF generate), one batched call over every env waiting, in key order."""

    def __init__(self, actor: VLMActor, greedy: bool = False):
        self.actor, self.greedy, self.pending = actor, greedy, {}

    def submit(self, key: int, frames: np.ndarray) -> None:
        self.pending[key] = frames

    def poll(self) -> list[tuple[int, Turn]]:
        keys = sorted(self.pending)
        turns = self.actor.act([self.pending.pop(k) for k in keys], greedy=self.greedy) if keys else []
        return list(zip(keys, turns, strict=True))

    def sleep(self) -> None:
        pass

    def sync_weights(self) -> None:  # samples from the trained model itself
        pass

    def close(self) -> None:
        pass


class EnginePolicy:
    """An engine as the env pool's `StreamingPolicy`: an invalid answer becomes `None` (env not stepped)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def submit(self, key: int, frame: np.ndarray, info: dict) -> None:
        self.engine.submit(key, frame)

    def poll(self) -> list[tuple[int, tuple[Any, Turn]]]:
        return [(k, (list(t.parsed.buttons) if t.parsed.buttons is not None else None, t))
                for k, t in self.engine.poll()]


def make_engine(rollout_cfg: Any, actor: VLMActor, base: str, model_cfg: Any, seed: int = 0) -> Engine:
    """The engine `rollout.engine` names, sampling from the actor's current weights."""
    if rollout_cfg.engine == "hf":
        return HFEngine(actor)
    if rollout_cfg.engine == "vllm":
        from .vllm import VLLMEngine

        return VLLMEngine(actor, base, rollout_cfg.vllm, lora=bool(model_cfg.lora), lora_r=int(model_cfg.lora_r),
                          seed=seed)
    raise ValueError(f"invalid rollout.engine={rollout_cfg.engine!r}: choose hf or vllm")


@torch.no_grad()
def logprob_gap(actor: VLMActor, turns: list[Turn], micro_batch: int = 16) -> dict[str, float]:
    """How far the sampler's stored log-probs are from the trainer's re-scoring of the same ids, before any
    update: the largest and the mean absolute gap per token, and the largest per-turn gap in the sum
    of a turn's absolute gaps. No turns gives zeros."""
    if not turns:
        return {"logprob_gap_max": 0.0, "logprob_gap_mean": 0.0, "seq_logprob_gap_max": 0.0}
    was_training = actor.model.training
    actor.model.eval()
    gaps, seq = [], []
    try:
        for k in range(0, len(turns), micro_batch):
            b = actor.collate(turns[k : k + micro_batch])
            diff = (actor.logprobs(b).cpu() - b.old_logprobs).abs() * b.response_mask
            gaps.append(diff[b.response_mask])
            seq.append(diff.sum(1))
    finally:
        actor.model.train(was_training)
    tok, seq_t = torch.cat(gaps), torch.cat(seq)
    return {"logprob_gap_max": float(tok.max()), "logprob_gap_mean": float(tok.mean()),
            "seq_logprob_gap_max": float(seq_t.max())}
