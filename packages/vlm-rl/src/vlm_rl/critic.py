"""Turn-level CNN critic V(o_t) on the raw Game Boy frame (paper §4.1, App. E.1).

The critic sees only the turn's frame (no text), a Nature-DQN CNN with
orthogonal init. It predicts RTG/value_scale internally and returns values in
reward units; its loss is SmoothL1 on the /value_scale scale (Table 7:
lr 3e-4 constant, weight decay 0, grad clip 1.0, one pass per training step).

Critic warm-up is the trainer's job: for the first ``critic_warmup_steps``
(5 in the paper) it calls :meth:`CriticTrainer.update` but skips the actor
update, so the first advantages do not come from an untrained critic.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from .algos.losses import value_loss

FRAME_HW = (144, 160)  # Game Boy screen: height 144, width 160


def _ortho(layer: nn.Module, gain: float) -> nn.Module:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class CNNCritic(nn.Module):
    """Nature-DQN value network: conv 32@8x8/4, 64@4x4/2, 64@3x3/1, fc 512, value head.

    Input: uint8 frames (B, H, W, 3) or (B, 3, H, W) in 0..255 (numpy or torch;
    an RGBA (B, H, W, 4) frame has its alpha dropped); scaled by 1/255 inside.
    Output: values[B] in reward units = head output × ``value_scale``.
    For a (3, 144, 160) frame: flatten 64·14·16 = 14336, 7,416,993 parameters.
    """

    def __init__(self, frame_hw: tuple[int, int] = FRAME_HW, value_scale: float = 100.0, hidden: int = 512):
        super().__init__()
        if value_scale <= 0:
            raise ValueError(f"value_scale must be > 0, got {value_scale}")
        self.frame_hw = tuple(frame_hw)
        self.value_scale = float(value_scale)
        g = math.sqrt(2)  # ReLU gain, as SB3/CleanRL
        self.features = nn.Sequential(
            _ortho(nn.Conv2d(3, 32, 8, stride=4), g), nn.ReLU(),
            _ortho(nn.Conv2d(32, 64, 4, stride=2), g), nn.ReLU(),
            _ortho(nn.Conv2d(64, 64, 3, stride=1), g), nn.ReLU(),
            nn.Flatten(),
        )  # fmt: skip
        with torch.no_grad():  # flatten size from a dummy frame, not hard-coded for 84x84
            n_flat = self.features(torch.zeros(1, 3, *self.frame_hw)).shape[1]
        self.fc = nn.Sequential(_ortho(nn.Linear(n_flat, hidden), g), nn.ReLU())
        self.head = _ortho(nn.Linear(hidden, 1), 1.0)

    def _prepare(self, frames: Tensor | np.ndarray) -> Tensor:
        p = self.head.weight
        x = torch.as_tensor(frames, device=p.device)
        if x.dim() != 4:
            raise ValueError(f"frames must be 4-D (B,H,W,C) or (B,3,H,W), got shape {tuple(x.shape)}")
        if x.shape[1] != 3:  # channel-last
            if x.shape[-1] not in (3, 4):
                raise ValueError(f"frames must have 3 (RGB) or 4 (RGBA) channels, got shape {tuple(x.shape)}")
            x = x[..., :3].permute(0, 3, 1, 2)
        if tuple(x.shape[2:]) != self.frame_hw:
            raise ValueError(f"frames must be {self.frame_hw} (H, W), got {tuple(x.shape[2:])}")
        return x.to(p.dtype) / 255.0

    def forward_normalized(self, frames: Tensor | np.ndarray) -> Tensor:
        """Head output [B]: the value divided by ``value_scale`` (what the loss sees)."""
        return self.head(self.fc(self.features(self._prepare(frames)))).squeeze(-1)

    def forward(self, frames: Tensor | np.ndarray) -> Tensor:
        """values[B] in reward units."""
        return self.forward_normalized(frames) * self.value_scale

    @torch.no_grad()
    def predict(self, frames: Tensor | np.ndarray, batch_size: int = 256) -> Tensor:
        """values[B] in reward units, evaluated in chunks without grad (for advantages)."""
        out = [self(frames[i : i + batch_size]) for i in range(0, len(frames), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, device=self.head.weight.device)


def explained_variance(pred: Tensor, target: Tensor) -> float:
    """1 − Var[target − pred] / Var[target]; NaN if target has no variance (as SB3)."""
    var_y = target.var(unbiased=False)
    if var_y == 0:
        return float("nan")
    return float(1 - (target - pred).var(unbiased=False) / var_y)


class CriticTrainer:
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
                loss.backward()
                preds[idx] = v.detach()
                losses.append(loss.item())
            if sync_grads is not None:
                sync_grads(params)
            norms.append(float(nn.utils.clip_grad_norm_(params, self.max_grad_norm)))
            self.optimizer.step()
        return {
            "value_loss": float(np.mean(losses)) if losses else float("nan"),
            "explained_variance": explained_variance(preds, returns),
            "grad_norm": float(np.mean(norms)) if norms else float("nan"),
        }
