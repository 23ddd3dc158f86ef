"""The CNN critic's cost per turn as a fraction of the actor's, at SmolVLM-256M's real shape (random weights).

Per turn the actor generates an answer (rollout) and is re-scored with gradients (update); the critic
predicts a value (rollout) and takes a gradient step (update). Both are timed on the same batch of frames,
alternating, on this machine's device.

    python benchmarks/critic_cost.py [--batch 8] [--tokens 64] [--rounds 3]

Headline, last: critic_cost_fraction (critic seconds per turn / actor seconds per turn).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from vlm_rl.models import load_policy  # noqa: E402
from vlm_rl.models.actor import VLMActor  # noqa: E402
from vlm_rl.models.critic import CNNCritic
from vlm_rl.models.tiny import ensure_tiny_model  # noqa: E402
from vlm_rl.update import CriticUpdate  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--tokens", type=int, default=64, help="answer length")
    p.add_argument("--upscale", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    path = ensure_tiny_model("smolvlm-256m-shape")
    model, processor = load_policy(str(path), lora=True, device=device)
    actor = VLMActor(model, processor, "hopland", upscale=args.upscale, max_new_tokens=args.tokens)
    critic = CNNCritic().to(device)
    trainer = CriticUpdate(critic, minibatch_size=args.batch)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.batch, 144, 160, 3), dtype=np.uint8)
    returns = torch.randn(args.batch) * 100
    n_params = sum(q.numel() for q in model.parameters())
    print(f"actor: {n_params / 1e6:.1f}M parameters (SmolVLM-256M shape), critic: "
          f"{sum(q.numel() for q in critic.parameters()) / 1e6:.1f}M; batch {args.batch}, {args.tokens}-token answers, "
          f"frames upscaled x{args.upscale}, {device}")

    def actor_step() -> float:
        t = time.perf_counter()
        turns = actor.act(list(frames))
        batch = actor.collate(turns)
        lp = actor.logprobs(batch)
        (-(lp * batch.response_mask.to(lp.device)).sum()).backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - t

    def critic_step() -> float:
        t = time.perf_counter()
        critic.predict(frames)
        trainer.update(frames, returns)
        return time.perf_counter() - t

    actor_step(), critic_step()  # warm-up
    a, c = [], []
    for _ in range(args.rounds):
        a.append(actor_step())
        c.append(critic_step())
    ta, tc = statistics.median(a) / args.batch, statistics.median(c) / args.batch
    print(f"actor: {ta * 1000:.1f} ms/turn   critic: {tc * 1000:.2f} ms/turn   (median of {args.rounds} rounds)")
    print(f"critic_cost_fraction: {tc / ta:.4f}")


if __name__ == "__main__":
    main()
