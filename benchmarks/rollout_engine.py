"""Rollout engines side by side: turns/s of vLLM (in-process, non-lock-step) against HF generate (lock-step), on
the same model, envs and turns, alternating rounds. Two models: the tiny Idefics3 and one of SmolVLM-256M's real
shape with random weights (frames upscaled x4, answers of up to --tokens tokens). Needs vLLM (tests/vllm_env.sh
builds an environment with it: .venv-vllm/bin/python benchmarks/rollout_engine.py).

    python benchmarks/rollout_engine.py [--n 8] [--turns 32] [--rounds 2] [--tokens 64] [--models tiny,256m]

Untrained models rarely sample a stop token, so nearly every answer is --tokens long on both sides.
Headline, last: rollout_vllm_vs_hf (turns/s ratio at SmolVLM-256M's shape).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from vlm_rl.config import EnvCfg, VLLMCfg  # noqa: E402
from vlm_rl.engines import EnginePolicy, HFEngine  # noqa: E402
from vlm_rl.envs import make_env  # noqa: E402
from vlm_rl.models import load_policy  # noqa: E402
from vlm_rl.models.actor import VLMActor  # noqa: E402
from vlm_rl.models.tiny import ensure_tiny_model  # noqa: E402
from vlm_rl.rollout import Job, run_episodes  # noqa: E402

ENV = EnvCfg(game="hopland", levels=["1"], terminate_on="game_over")
MODELS = {"tiny": ("idefics3", 1), "256m": ("smolvlm-256m-shape", 4)}  # name: (tiny family, upscale)


def play(engine, n_envs: int, turns: int) -> tuple[float, float]:
    """(turns/s, cores busy: CPU time / wall time) for `turns` turns on n_envs envs (episodes of turns // n_envs
    turns each)."""
    envs = [make_env(ENV) for _ in range(n_envs)]
    jobs = [Job(level="1", seed=i) for i in range(n_envs)]
    t, cpu = time.perf_counter(), time.process_time()
    eps = run_episodes(envs, EnginePolicy(engine), jobs, max_turns=turns // n_envs, keep_steps=False)
    dt, dcpu = time.perf_counter() - t, time.process_time() - cpu
    for e in envs:
        e.close()
    return sum(ep.n_turns for ep in eps) / dt, dcpu / dt


def compare(name: str, args) -> float:
    from vlm_rl.engines.vllm import VLLMEngine

    family, upscale = MODELS[name]
    path = str(ensure_tiny_model(family))
    model, processor = load_policy(path, lora=False)
    actor = VLMActor(model, processor, "hopland", upscale=upscale, max_new_tokens=args.tokens)
    t = time.perf_counter()
    vllm = VLLMEngine(actor, path, VLLMCfg(), lora=False)
    start = time.perf_counter() - t
    hf = HFEngine(actor)
    rates: dict[str, list[float]] = {"hf": [], "vllm": []}
    cores: dict[str, list[float]] = {"hf": [], "vllm": []}
    for r in range(args.rounds):
        for side, engine in (("hf", hf), ("vllm", vllm)):
            torch.manual_seed(r)
            rate, busy = play(engine, args.n, args.turns)
            rates[side].append(rate)
            cores[side].append(busy)
    vllm.close()
    del vllm, hf, actor, model
    gc.collect()
    h, v = statistics.median(rates["hf"]), statistics.median(rates["vllm"])
    busy = {k: statistics.median(c) for k, c in cores.items()}
    print(f"{name} ({family}, upscale x{upscale}, {args.n} envs, {args.turns} turns, answers of up to {args.tokens} "
          f"tokens): hf {h:.2f} turns/s ({busy['hf']:.1f} cores busy), vllm {v:.2f} turns/s ({busy['vllm']:.1f} cores "
          f"busy), ratio {v / h:.2f} (median of {args.rounds} rounds; vLLM engine start {start:.1f} s)", flush=True)
    return v / h


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--turns", type=int, default=32)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch threads (both engines run in this process)")
    p.add_argument("--models", default="tiny,256m")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ratios = {name: compare(name, args) for name in args.models.split(",")}
    for name, ratio in ratios.items():
        print(f"rollout_vllm_vs_hf_{name}: {ratio:.2f}")
    headline = ratios.get("256m", next(iter(ratios.values())))
    print(f"rollout_vllm_vs_hf: {headline:.2f}")


if __name__ == "__main__":
    main()
