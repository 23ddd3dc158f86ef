"""Data parallelism across processes (one per device, each with its own envs), on `accelerate`.

Launch with `accelerate launch --num_processes N -m vlm_rl.train ...`; a plain
`python -m` run is one process and every call here is a no-op. Gradients are
averaged by hand after each backward pass rather than through DDP, because
processes hold different numbers of turns: `agree_max` lets them agree on a
common number of optimizer steps, padding with empty ones. Under accelerate's FSDP config the actor is
sharded instead and FSDP reduces its gradients (`vlm_rl.sharding`); the critic is still summed here.
SFT runs on every process too, each on its share of every batch (`stages/sft.py`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as td


class Dist:
    def __init__(self, cpu: bool = False):
        from accelerate import PartialState

        self.state = PartialState(cpu=cpu)
        self.rank, self.world = self.state.process_index, self.state.num_processes
        self.is_main = self.state.is_main_process

    def device(self, device: str) -> str:
        """This process's device for `device` (pick_device's answer): its own GPU when several share a node."""
        if device == "cuda" and self.world > 1:
            return f"cuda:{self.state.local_process_index}"
        return device

    def sync_grads(self, params: list[torch.nn.Parameter], op: str = "mean") -> None:
        """All-reduce gradients (flattened into one buffer), averaged or summed."""
        if self.world == 1:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        td.all_reduce(flat)
        if op == "mean":
            flat /= self.world
        i = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[i : i + n].view_as(p).clone()
            i += n

    def gather(self, obj: Any) -> list[Any]:
        """Every process's `obj`, in rank order (picklable objects)."""
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        td.all_gather_object(out, obj)
        return out

    def agree_max(self, value: int) -> int:
        return max(self.gather(int(value)))

    def sum(self, value: float) -> float:
        return float(sum(self.gather(float(value))))

    def barrier(self) -> None:
        if self.world > 1:
            self.state.wait_for_everyone()
