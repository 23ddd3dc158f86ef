"""Every optimiser loop over one RL batch: the actor's (the registered policy loss, token-mean over
response tokens, in minibatches, plus optionally a supervised loss on the RAM teacher's perception of
visited frames, `rl.perception_coef`) and the critic's (SmoothL1 on RTG / value_scale), side by side.

Data-parallel runs: each process holds its own turns; the processes agree on a common number of
optimiser steps (padding with empty ones) and sum or average their gradients before each step. A
sharded actor (`vlm_rl.sharding`, FSDP2) reduces its gradients in its own backward instead, which every
process must run the same number of times: there the processes also agree on the number of
micro-batches of each step, padding with zero-weight ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from gb_gym.spec import Scene

from .algos import Entry, value_loss
from .config import AlgoCfg, CriticCfg, RLCfg
from .dist import Dist
from .guards import check_finite, check_parameters
from .models.actor import Turn, VLMActor
from .models.critic import CNNCritic
from .perception import teacher_perception
from .rollout import RolloutBatch
from .sharding import is_sharded, set_gradient_sync


class ActorUpdate:
    """The actor's optimiser (AdamW over its trainable parameters) and its loop over a batch."""

    def __init__(self, actor: VLMActor, rl: RLCfg, algo: AlgoCfg, loss: Entry, dist: Dist):
        self.actor, self.rl, self.algo, self.loss, self.dist = actor, rl, algo, loss, dist
        self.hint = f"rl.lr={rl.lr} too high, or rl.max_grad_norm={rl.max_grad_norm} too loose"
        self.sharded = is_sharded(actor.model)
        self.params = [p for p in actor.model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the policy has no trainable parameters: set model.lora=true or model.full_finetune=true")
        self.optimizer = torch.optim.AdamW(self.params, lr=rl.lr, weight_decay=rl.weight_decay)

    def update(self, batch: RolloutBatch, adv: Tensor, keep: Tensor, step: int = 0) -> dict[str, float]:
        """`rl.epochs` shuffled passes over the kept turns in minibatches of `rl.minibatch_size` turns, each
        split into micro-batches for gradient accumulation; every token of a minibatch weighs the same.
        With `rl.perception_coef` > 0 each optimizer step also learns the RAM teacher's perception of
        `rl.perception_frames` of the batch's visited frames (kept or not)."""
        idx = torch.nonzero(keep).flatten()
        idx = idx[torch.randperm(len(idx))]
        mb, micro = self.rl.minibatch_size, self.rl.micro_batch_size
        perception = PerceptionTargets(batch, self.rl.perception_frames) if self.rl.perception_coef > 0 else None
        # with no kept turn, one step of the perception term alone
        n_mb = self.dist.agree_max(max(-(-len(idx) // mb), perception is not None))
        metrics: list[dict] = []
        self.actor.model.train()
        for _ in range(self.rl.epochs):
            for m in range(n_mb):
                chunk = idx[m * mb : (m + 1) * mb].tolist()
                targets = perception.turns(self.actor) if perception is not None else []
                self.optimizer.zero_grad(set_to_none=False)
                for p in self.params:
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
                n_micro, n_target = -(-len(chunk) // micro), -(-len(targets) // micro)
                if self.sharded:  # every process runs as many forward/backward passes (FSDP's collectives)
                    n_micro = self.dist.agree_max(n_micro)
                    n_target = self.dist.agree_max(n_target) if perception is not None else 0
                # FSDP reduces the gradients in the step's last backward
                last = [k == n_micro + n_target - 1 for k in range(n_micro + n_target)]
                metrics += self._policy_loss(batch, adv, chunk, n_micro, last[:n_micro], step)
                if perception is not None:
                    metrics += self._perception_loss(targets, batch.turns[0], n_target, last[n_micro:], step)
                if not self.sharded:  # each loss is already over the global token count: sum
                    self.dist.sync_grads(self.params, op="sum")
                gn = torch.nn.utils.clip_grad_norm_(self.params, self.rl.max_grad_norm)  # global norm under FSDP too
                gn = gn.full_tensor() if hasattr(gn, "full_tensor") else gn
                check_finite("actor gradient norm", gn, f"rl step {step}", self.hint)
                self.optimizer.step()
                metrics.append({"grad_norm": float(gn), "weight": 0.0})
        check_parameters(self.actor.model.named_parameters(), f"rl step {step}, after the actor update", self.hint)
        return weighted_mean(sum(self.dist.gather(metrics), []))  # over every process's turns

    def _policy_loss(self, batch: RolloutBatch, adv: Tensor, chunk: list[int], n_micro: int, sync: list[bool],
                     step: int) -> list[dict]:
        """Backward of the registered policy loss over one minibatch's turns, `n_micro` micro-batches."""
        micro = self.rl.micro_batch_size
        total_tokens = self.dist.sum(sum(len(batch.turns[i].response_ids) for i in chunk))
        options = self.loss.kwargs(self.algo)
        metrics = []
        for k in range(n_micro):
            ids = chunk[k * micro : (k + 1) * micro]
            pad = not ids  # a zero-weight pass on any turn of this process
            b = self.actor.collate([batch.turns[i] for i in ids or [0]])
            set_gradient_sync(self.actor.model, sync[k])
            lp = self.actor.logprobs(b)
            mask = b.response_mask.to(lp.device)
            ref = {"ref_logprobs": self.actor.reference_logprobs(b).to(lp.device)} if self.algo.kl_coef > 0 else {}
            loss, info = self.loss.fn(lp, b.old_logprobs.to(lp.device), adv[ids or [0]].to(lp.device), mask,
                                      num_tokens=total_tokens, **options, **ref)
            check_finite("actor loss", loss, f"rl step {step}", self.hint)
            (loss * 0.0 if pad else loss).backward()
            if pad:
                continue
            # the loss's metrics are sums over the global token count: back to this micro-batch's means
            n_tok = float(mask.sum())
            metrics.append({**{k: v * total_tokens / max(n_tok, 1.0) for k, v in info.items()}, "weight": n_tok})
        return metrics

    def _perception_loss(self, targets: list[Turn], any_turn: Turn, n_micro: int, sync: list[bool],
                         step: int) -> list[dict]:
        """Backward of perception_coef x the mean per-token NLL of the teacher's perception targets (every
        process's together), `n_micro` micro-batches."""
        micro, coef = self.rl.micro_batch_size, self.rl.perception_coef
        total_tokens = self.dist.sum(sum(len(t.response_ids) for t in targets))
        metrics = []
        for k in range(n_micro):
            part = targets[k * micro : (k + 1) * micro]
            pad = not part  # a zero-weight pass, as the policy loss's
            b = self.actor.collate(part or [any_turn])
            set_gradient_sync(self.actor.model, sync[k])
            lp = self.actor.logprobs(b)
            nll = -(lp * b.response_mask.to(lp.device)).sum()
            loss = coef * nll / max(total_tokens, 1.0)
            check_finite("perception loss", loss, f"rl step {step}", self.hint)
            (loss * 0.0 if pad else loss).backward()
            if not pad:
                n_tok = float(b.response_mask.sum())
                mean = nll.item() / n_tok
                metrics.append({"perception_nll": mean, "perception_loss": coef * mean, "weight": n_tok})
        return metrics


class PerceptionTargets:
    """The RAM teacher's perception of a batch's visited frames as RL's supervised targets: the response
    prefix `<perception>...</perception>` (no stop token) under the frame's own prompt and image, handed
    out `per_step` frames at a time in a shuffled order that visits every frame before any repeats."""

    def __init__(self, batch: RolloutBatch, per_step: int):
        rows = [i for i, scene in enumerate(batch.scenes) if scene is not None]
        if not rows:
            raise ValueError("rl.perception_coef > 0 but no turn of this batch carries the RAM's scene: the game "
                             "needs a scene description (GameSpec.scene) and envs made with ram_info=True; or set "
                             "rl.perception_coef=0")
        self.batch, self.rows = batch, [rows[i] for i in torch.randperm(len(rows)).tolist()]
        self.per_step, self.pos = min(per_step, len(rows)), 0

    def turns(self, actor: VLMActor) -> list[Turn]:
        """The next step's targets."""
        rows = [self.rows[(self.pos + j) % len(self.rows)] for j in range(self.per_step)]
        self.pos += self.per_step
        return perception_turns(actor, [self.batch.turns[i].frames for i in rows],
                                [self.batch.scenes[i] for i in rows])


def perception_turns(actor: VLMActor, frames: list[np.ndarray], scenes: list[Scene]) -> list[Turn]:
    """Turns whose responses are the RAM teacher's perception of each frame, without the stop token: their
    response tokens are exactly the tokens a sampled answer opens with when its perception is right."""
    return actor.teacher_turns(frames, [teacher_perception(s) for s in scenes], stop=False)


def weighted_mean(rows: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {}
    keys = {k for r in rows for k in r if k != "weight"}
    for k in keys:
        pairs = [(r[k], r["weight"] or 1.0) for r in rows if k in r]
        out[k] = sum(v * w for v, w in pairs) / sum(w for _, w in pairs)
    return out


def explained_variance(pred: Tensor, target: Tensor) -> float:
    """1 − Var[target − pred] / Var[target]; NaN if target has no variance (as SB3)."""
    var_y = target.var(unbiased=False)
    if var_y == 0:
        return float("nan")
    return float(1 - (target - pred).var(unbiased=False) / var_y)


class CriticUpdate:
    """One critic update per training step, as the paper does it.

    ``update(frames, returns)``: target = discounted return-to-go (reward units),
    loss SmoothL1(V/scale, RTG/scale), one shuffled pass over the batch in
    minibatches of ``minibatch_size``, grad-norm clip ``max_grad_norm``,
    Adam(lr, weight_decay). The optimizer persists across calls.
    """

    def __init__(
        self,
        critic: CNNCritic,
        lr: float = 3e-4,
        weight_decay: float = 0.0,
        max_grad_norm: float = 1.0,
        minibatch_size: int = 256,
    ):
        if minibatch_size < 1:
            raise ValueError(f"minibatch_size must be >= 1, got {minibatch_size}")
        self.critic = critic
        self.max_grad_norm = max_grad_norm
        self.minibatch_size = minibatch_size
        self.optimizer = torch.optim.Adam(critic.parameters(), lr=lr, weight_decay=weight_decay)

    @classmethod
    def from_config(cls, critic: CNNCritic, c: CriticCfg) -> CriticUpdate:
        return cls(critic, lr=c.lr, weight_decay=c.weight_decay, max_grad_norm=c.max_grad_norm,
                   minibatch_size=c.minibatch_size)

    def update(
        self,
        frames: Tensor | np.ndarray,
        returns: Tensor,
        generator: torch.Generator | None = None,
        sync_grads: Callable[[list[nn.Parameter]], None] | None = None,
        min_steps: int = 0,
    ) -> dict[str, float]:
        """One pass over frames[T, ...] with targets returns[T] → metrics.

        Metrics: ``value_loss`` (mean over minibatches), ``explained_variance``
        (of each minibatch's prediction just before its own step, over the batch:
        no extra forward pass), ``grad_norm`` (mean, before clipping).

        Data-parallel training: ``sync_grads(params)`` averages the gradients
        across processes before each step, and ``min_steps`` pads this process
        with empty steps so every process steps the same number of times.
        """
        c = self.critic
        dev = c.head.weight.device
        returns = torch.as_tensor(returns, dtype=torch.float32, device=dev)
        n = returns.shape[0]
        if len(frames) != n:
            raise ValueError(f"frames ({len(frames)}) and returns ({n}) must have the same length")
        order = torch.randperm(n, generator=generator).to(dev)
        preds = torch.empty(n, device=dev)
        losses, norms = [], []
        c.train()
        params = list(c.parameters())
        n_steps = max(-(-n // self.minibatch_size), min_steps)
        for step in range(n_steps):
            idx = order[step * self.minibatch_size : (step + 1) * self.minibatch_size]
            self.optimizer.zero_grad(set_to_none=False)
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            if len(idx):
                mb = frames[idx.cpu().numpy()] if isinstance(frames, np.ndarray) else frames[idx.to(frames.device)]
                v = c(mb)
                loss = value_loss(v, returns[idx], scale=c.value_scale)
                check_finite("critic loss", loss, "the critic update", "rl.critic.lr too high")
                loss.backward()
                preds[idx] = v.detach()
                losses.append(loss.item())
            if sync_grads is not None:
                sync_grads(params)
            norms.append(float(nn.utils.clip_grad_norm_(params, self.max_grad_norm)))
            check_finite("critic gradient norm", norms[-1], "the critic update", "rl.critic.lr too high")
            self.optimizer.step()
        return {
            "value_loss": float(np.mean(losses)) if losses else float("nan"),
            "explained_variance": explained_variance(preds, returns),
            "grad_norm": float(np.mean(norms)) if norms else float("nan"),
        }
