"""Peak memory of one RL training step (actor PPO minibatch with AdamW + critic update) at SmolVLM-256M's
real shape, with LoRA against full fine-tuning. Each variant runs in a fresh process so the peaks are its own.

On a GPU the peak is `torch.cuda.max_memory_allocated` over the step; on a CPU it is the process's peak
resident memory (the model load included, which is also measured alone and printed).

    python benchmarks/train_memory.py [--batch 8] [--tokens 64]

Headline, last: train_step_peak_lora_vs_full (LoRA's peak / full fine-tuning's peak).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_variant(variant: str, batch: int, tokens: int) -> dict:
    import numpy as np
    import torch

    from vlm_rl.algos import get_loss
    from vlm_rl.models import load_policy
    from vlm_rl.models.actor import VLMActor
    from vlm_rl.models.critic import CNNCritic
    from vlm_rl.models.tiny import ensure_tiny_model
    from vlm_rl.update import CriticUpdate

    torch.set_num_threads(2)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    path = str(ensure_tiny_model("smolvlm-256m-shape"))
    if variant == "load":
        model, _ = load_policy(path, lora=True, device=device)
        sum(float(p.detach().sum()) for p in model.parameters())  # touch every weight: all of it resident
        return {"peak_mb": _peak_mb()}
    model, processor = load_policy(path, lora=variant == "lora", full_finetune=variant == "full",
                                   train_vision=variant == "full", device=device)
    actor = VLMActor(model, processor, "hopland", upscale=4, max_new_tokens=tokens)
    rng = np.random.default_rng(0)
    frames = list(rng.integers(0, 256, (batch, 144, 160, 3), dtype=np.uint8))
    # answers of a fixed length without generating them, so the peak is the training step's alone
    answer = "<perception>" + " on ground" * (tokens // 2) + "</perception><answer>['a', 'right']</answer>"
    turns = actor.teacher_turns(frames, [answer] * batch)
    for t in turns:
        t.response_ids = t.response_ids[:tokens]
        t.logprobs = t.logprobs[:tokens] - 1.0
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    critic = CNNCritic().to(device)
    trainer = CriticUpdate(critic, minibatch_size=batch)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    b = actor.collate(turns)
    lp = actor.logprobs(b)
    loss, _ = get_loss("ppo_clip")(lp, b.old_logprobs.to(lp.device), torch.ones(batch, device=lp.device),
                                   b.response_mask.to(lp.device))
    loss.backward()
    opt.step()
    trainer.update(np.stack(frames), torch.randn(batch) * 100)
    out = {"peak_mb": _peak_mb(), "trainable_m": sum(p.numel() for p in params) / 1e6}
    if device == "cuda":
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.batch, args.tokens)))
        return
    res = {}
    for variant in ("load", "lora", "full"):
        proc = subprocess.run([sys.executable, __file__, "--variant", variant, "--batch", str(args.batch),
                               "--tokens", str(args.tokens)], capture_output=True, text=True, check=True)
        res[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
    key = "cuda_peak_mb" if "cuda_peak_mb" in res["lora"] else "peak_mb"
    where = "GPU memory allocated during the step" if key == "cuda_peak_mb" else "peak resident memory of the process"
    print(f"model load alone: {res['load']['peak_mb']:,.0f} MB peak resident")
    for v in ("lora", "full"):
        print(f"{v:>5}: {res[v][key]:,.0f} MB ({where}), {res[v]['trainable_m']:.1f}M trainable parameters, "
              f"batch {args.batch} x {args.tokens}-token answers")
    print(f"train_step_peak_lora_vs_full: {res['lora'][key] / res['full'][key]:.3f}")


if __name__ == "__main__":
    main()
