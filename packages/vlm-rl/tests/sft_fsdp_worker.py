"""The SFT stage under `accelerate launch --config_file .../accelerate/fsdp.yaml --num_processes 2`, run by
test_sft_fsdp.py. For each run directory (its data/ already annotated) it trains the sft stage, moves the
finished policy and report aside to policy.first / report.first.json, and trains the stage again with
resume=true: that run goes on from the last checkpoint, so it must end with the same weights. A run marked
`plain` switches FSDP off (the launch's switch, read by `sharding.fsdp_launched`): plain data parallelism,
whose gradients `Dist.sync_grads` sums.

    python sft_fsdp_worker.py RUN:override,override:sharded RUN2:override:plain ...
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import torch

from vlm_rl.cli import compose
from vlm_rl.dist import Dist
from vlm_rl.train import train

# a tiny SFT on 40 frames: 4 optimizer steps of 2 micro-batches of 10 frames, a checkpoint after each of the first 3
OPTS = ["+exp=hopland", "device=cpu", "resume=true", "stages=[sft]", "sft.epochs=2", "sft.batch_size=10",
        "sft.grad_accum=2", "sft.lr=1e-3", "sft.eval_frames=1", "sft.log_every=1", "model.lora_r=4",
        "rl.max_new_tokens=16"]  # the held-out report, on 1 frame: process 0 has none and generates on a stand-in


def run(root: Path, overrides: list[str], sharded: bool) -> None:
    os.environ["ACCELERATE_USE_FSDP"] = str(sharded).lower()
    cfg = compose([*OPTS, *overrides, f"out_dir={root}"])
    train(cfg)
    dist = Dist(cpu=True)
    if dist.is_main:
        (root / "sft" / "policy").rename(root / "sft" / "policy.first")
        (root / "sft" / "report.json").rename(root / "sft" / "report.first.json")
    dist.barrier()
    train(cfg)


if __name__ == "__main__":
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO)  # test_sft_fsdp.py reads each process's "sft: process" line
    for arg in sys.argv[1:]:
        root, extra, how = arg.split(":")
        run(Path(root), [o for o in extra.split(",") if o], how == "sharded")
