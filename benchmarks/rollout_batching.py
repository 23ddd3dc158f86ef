"""Rollout throughput: N envs with one batched generate call per turn, against the same turns played one
env at a time. Both sides play the same number of turns with the same actor, alternating rounds.

    python benchmarks/rollout_batching.py [--policy runs/.../sft/policy] [--n 8] [--turns 96]

With --vllm (needs vLLM: .venv-vllm/bin/python, see tests/vllm_env.sh), also the non-lock-step pool: vLLM fed
each env's request as soon as its env step is done, against the same engine driven lock-step (every env waits
for the whole round's answers), same envs and turns. It gains where answer lengths differ; an untrained model
answers --tokens tokens every time, so measure it with a trained --policy.

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


class LockStepped:
    """A streaming engine driven lock-step: each poll waits until every submitted request is answered."""

    def __init__(self, engine):
        self.engine = engine

    def submit(self, key, frames):
        self.engine.submit(key, frames)

    def poll(self):
        out = []
        while self.engine.pending:
            out += self.engine.poll()
        return sorted(out, key=lambda kt: kt[0])


def play(actor: VLMActor, n_envs: int, turns: int, policy=None) -> float:
    """turns/s for `turns` turns on n_envs envs (episodes of turns // n_envs turns each)."""
    envs = [make_env(ENV) for _ in range(n_envs)]
    per = turns // n_envs
    jobs = [Job(level="1", seed=i) for i in range(n_envs)]
    t = time.perf_counter()
    eps = run_episodes(envs, policy or ActorPolicy(actor), jobs, max_turns=per, keep_steps=False)
    dt = time.perf_counter() - t
    for e in envs:
        e.close()
    return sum(ep.n_turns for ep in eps) / dt


def model_path(policy: str) -> str:
    from vlm_rl.models.load import resolve_model

    return resolve_model(policy)


def streaming_vs_lockstep(actor: VLMActor, path: str, args) -> None:
    from vlm_rl.config import VLLMCfg
    from vlm_rl.engines import EnginePolicy
    from vlm_rl.engines.vllm import VLLMEngine

    engine = VLLMEngine(actor, path, VLLMCfg(), lora=False)
    streaming, lockstep = [], []
    for r in range(args.rounds):
        torch.manual_seed(r)
        streaming.append(play(actor, args.n, args.turns, EnginePolicy(engine)))
        lockstep.append(play(actor, args.n, args.turns, EnginePolicy(LockStepped(engine))))
    engine.close()
    st, lo = statistics.median(streaming), statistics.median(lockstep)
    print(f"vLLM, {args.n} envs: non-lock-step pool {st:.1f} turns/s   lock-step {lo:.1f} turns/s   "
          f"rollout_streaming_vs_lockstep {st / lo:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--policy", default="tiny", help="a saved policy dir, or a preset (default: tiny)")
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--turns", type=int, default=96)
    p.add_argument("--tokens", type=int, default=40, help="answer length for an untrained model")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--vllm", action="store_true", help="also vLLM's non-lock-step pool against lock-step")
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
    if args.vllm:
        streaming_vs_lockstep(actor, model_path(args.policy), args)
    b, s = statistics.median(batched), statistics.median(sequential)
    print(f"{args.n} envs batched: {b:.1f} turns/s   1 env: {s:.1f} turns/s   (median of {args.rounds} rounds, "
          f"{'untrained tiny model, answers of up to ' + str(args.tokens) + ' tokens' if untrained else args.policy})")
    print(f"rollout_batched_vs_sequential: {b / s:.2f}")


if __name__ == "__main__":
    main()
