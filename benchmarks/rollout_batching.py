"""Rollout throughput: N envs with one batched generate call per turn, against the same turns played one
env at a time. Both sides play the same number of turns with the same actor, alternating rounds.

    python benchmarks/rollout_batching.py [--policy runs/.../sft/policy] [--n 8] [--turns 96]

Without --policy a fresh tiny model answers; untrained, it rarely samples a stop token, so nearly every
answer is --tokens long on both sides. Headline, last: rollout_batched_vs_sequential (turns/s ratio).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from vlm_rl.config import EnvCfg  # noqa: E402
from vlm_rl.envs import make_env  # noqa: E402
from vlm_rl.models import load_policy  # noqa: E402
from vlm_rl.models.actor import VLMActor  # noqa: E402
from vlm_rl.rollout import ActorPolicy, Job, run_episodes  # noqa: E402

ENV = EnvCfg(game="hopland", levels=["1"], terminate_on="game_over")


def play(actor: VLMActor, n_envs: int, turns: int) -> float:
    """turns/s for `turns` turns on n_envs envs (episodes of turns // n_envs turns each)."""
    envs = [make_env(ENV) for _ in range(n_envs)]
    per = turns // n_envs
    jobs = [Job(level="1", seed=i) for i in range(n_envs)]
    t = time.perf_counter()
    eps = run_episodes(envs, ActorPolicy(actor), jobs, max_turns=per, keep_steps=False)
    dt = time.perf_counter() - t
    for e in envs:
        e.close()
    return sum(ep.n_turns for ep in eps) / dt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--policy", default="tiny", help="a saved policy dir, or a preset (default: tiny)")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--turns", type=int, default=96)
    p.add_argument("--tokens", type=int, default=40, help="answer length for an untrained model")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    model, processor = load_policy(args.policy, lora=False)
    untrained = args.policy == "tiny"  # samples near-uniform tokens: almost every answer runs to --tokens
    actor = VLMActor(model, processor, "hopland", max_new_tokens=args.tokens)
    batched, sequential = [], []
    for r in range(args.rounds):
        torch.manual_seed(r)
        batched.append(play(actor, args.n, args.turns))
        sequential.append(play(actor, 1, max(args.turns // args.n, 8)))
    b, s = statistics.median(batched), statistics.median(sequential)
    print(f"{args.n} envs batched: {b:.1f} turns/s   1 env: {s:.1f} turns/s   (median of {args.rounds} rounds, "
          f"{'untrained tiny model, answers of up to ' + str(args.tokens) + ' tokens' if untrained else args.policy})")
    print(f"rollout_batched_vs_sequential: {b / s:.2f}")


if __name__ == "__main__":
    main()
