"""Turn-level CNN critic V(o_t) on the raw Game Boy frame (paper §4.1, App. E.1).

The critic sees only the turn's frame (no text), a Nature-DQN CNN with
orthogonal init. It predicts RTG/value_scale internally and returns values in
reward units; its loss is SmoothL1 on the /value_scale scale (Table 7:
lr 3e-4 constant, weight decay 0, grad clip 1.0, one pass per training step).

The network only; its optimiser loop is `vlm_rl.update.CriticUpdate`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

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
