"""GPU acceptance check: the GPU code paths at real model shapes, in one command, with no hub and no network.

    python benchmarks/gpu_check.py                 # on a CUDA machine; about 5-8 minutes on one H200
    python benchmarks/gpu_check.py --device cpu --quick   # the same checks on tiny models, to test the script

It builds SmolVLM-256M- and Qwen3-VL-2B-shaped models with random weights (cached beside the tiny models), then
runs, each as `python -m vlm_rl.train` in a fresh process on our cartridge:
  1. 2 RL steps per model with LoRA in bf16 (HF rollouts);
  2. one full-fine-tuning RL step under FSDP over every visible GPU (`accelerate launch`, our FSDP config);
  3. a 4-bit (bitsandbytes NF4) load and RL step, where bitsandbytes works;
  4. 2 RL steps with the vLLM rollout engine, where vLLM is installed (it says plainly when it skips).
Each line prints turns/s, peak GPU memory and, with vLLM, the largest log-prob gap between vLLM and the trainer.
The RL steps start from the base model (`rl.init=base`): random weights answer badly, so the numbers are speed
and memory, not learning. Headline, last: `gpu_check_passed: <passed>/<run>`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
FSDP_CONFIG = ROOT / "packages/vlm-rl/src/vlm_rl/conf/accelerate/fsdp.yaml"

# (label, model family in vlm_rl.models.tiny, model config group, upscale)
MODELS = {
    "full": [("smolvlm-256m", "smolvlm-256m-shape", "smolvlm-256m", 4),
             ("qwen3-vl-2b", "qwen3-vl-2b-shape", "qwen3-vl-2b", 4)],
    "quick": [("tiny-idefics3", "idefics3", "tiny", 1)],
}


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def bitsandbytes_works() -> bool:
    try:
        import bitsandbytes  # noqa: F401
    except Exception:  # a CPU-only or mismatched build fails at import
        return False
    return True


def run_train(label: str, overrides: list[str], out: Path, launcher: list[str], timeout: int) -> dict:
    """One training run in a fresh process; its last RL metrics row, or the error's tail."""
    cmd = [*launcher, "-m", "vlm_rl.train", *overrides, f"out_dir={out}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    wall = time.perf_counter() - t0
    rows = [json.loads(x) for x in (out / "rl/metrics.jsonl").read_text().splitlines()] if (
        out / "rl/metrics.jsonl").is_file() else []
    if proc.returncode != 0 or not rows:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
        return {"label": label, "ok": False, "wall_s": wall, "error": " | ".join(tail)}
    last = rows[-1]
    return {
        "label": label, "ok": True, "wall_s": wall, "steps": len(rows),
        "turns_per_s": sum(r.get("time/turns_per_s", 0.0) for r in rows) / len(rows),
        "peak_gb": max(r.get("mem/peak_gb", 0.0) for r in rows),
        "logprob_gap": max((r["rollout/logprob_gap_max"] for r in rows if "rollout/logprob_gap_max" in r),
                           default=None),
        "actor_updated": last.get("actor/updated", 0.0),
    }


def common(device: str, quick: bool) -> list[str]:
    turns, trajs = (4, 4) if quick else (16, 16)
    return [
        "env=hopland", "stages=[rl]", "rl.init=base", f"device={device}", "threads=4",
        f"env.max_turns={turns}", f"rl.trajectories={trajs}", f"rl.envs={trajs}", "rl.max_new_tokens=64",
        "rl.critic.warmup_steps=0", "rl.minibatch_size=16", "rl.micro_batch_size=4", "rl.checkpoint_every=100",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--quick", action="store_true", help="tiny models only (to test this script on a CPU)")
    ap.add_argument("--out", default=None, help="where runs go (default: a temporary folder)")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per run")
    args = ap.parse_args()

    import torch

    from vlm_rl.models.tiny import ensure_tiny_model

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device is visible; run with --device cpu --quick to test the script")
    n_gpus = torch.cuda.device_count() if args.device == "cuda" else 2
    print(f"torch {torch.__version__}, device {args.device}"
          + (f" ({torch.cuda.get_device_name(0)} x{n_gpus})" if args.device == "cuda" else ""))
    print(f"vllm: {'installed' if has('vllm') else 'not installed'}; "
          f"bitsandbytes: {'works' if bitsandbytes_works() else 'not usable'}; accelerate FSDP config: {FSDP_CONFIG.name}")
    out = Path(args.out or tempfile.mkdtemp(prefix="gpu_check-"))
    dtype = "bf16" if args.device == "cuda" else "fp32"
    python = [sys.executable]
    results: list[dict] = []
    for label, family, group, upscale in MODELS["quick" if args.quick else "full"]:
        t0 = time.perf_counter()
        path = ensure_tiny_model(family)  # built here, once, not by each process of a launch
        print(f"[{label}] model at {path} ({time.perf_counter() - t0:.0f} s to build or find)")
        base = [*common(args.device, args.quick), f"model={group}", f"model.path={path}", f"model.upscale={upscale}"]
        lora = [*base, f"model.dtype={dtype}", "model.lora=true", "model.full_finetune=false", "model.train_vision=false"]
        results.append(run_train(f"{label} lora {dtype} hf x2", [*lora, "rl.steps=2"], out / f"{label}-lora",
                                 python, args.timeout))
        if FSDP_CONFIG.is_file():
            # fp32 weights sharded, bf16 compute (the config's mixed_precision, overridden here on a GPU)
            launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(FSDP_CONFIG),
                        "--num_processes", str(n_gpus),
                        *(["--mixed_precision", "bf16"] if args.device == "cuda" else [])]
            full = [*base, "model.dtype=fp32", "model.lora=false", "model.full_finetune=true", "rl.steps=1"]
            results.append(run_train(f"{label} full fsdp x{n_gpus}", full, out / f"{label}-fsdp", launcher,
                                     args.timeout))
        else:
            print(f"[{label}] FSDP: skipped, {FSDP_CONFIG} is missing")
        if args.device == "cuda" and bitsandbytes_works():
            results.append(run_train(f"{label} 4-bit lora", [*lora, "model.load_in_4bit=true", "rl.steps=1"],
                                     out / f"{label}-4bit", python, args.timeout))
        else:
            print(f"[{label}] 4-bit: skipped (bitsandbytes is not usable{' on CPU' if args.device == 'cpu' else ''})")
        if has("vllm"):
            results.append(run_train(f"{label} lora vllm x2", [*lora, "rl.steps=2", "rollout.engine=vllm"],
                                     out / f"{label}-vllm", python, args.timeout))
        else:
            print(f"[{label}] vLLM: skipped, vllm is not installed here (pip install 'vlm-rl[vllm]')")

    print(f"\n{'run':34s} {'ok':>3s} {'wall s':>7s} {'turns/s':>8s} {'peak GB':>8s} {'lp gap':>8s}")
    for r in results:
        if r["ok"]:
            gap = "-" if r["logprob_gap"] is None else f"{r['logprob_gap']:.1e}"
            print(f"{r['label']:34s} {'yes':>3s} {r['wall_s']:7.0f} {r['turns_per_s']:8.2f} {r['peak_gb']:8.2f} {gap:>8s}")
        else:
            print(f"{r['label']:34s} {'NO':>3s} {r['wall_s']:7.0f}  {r['error'][:300]}")
    (out / "gpu_check.json").write_text(json.dumps(results, indent=1))
    print(f"\nresults: {out / 'gpu_check.json'}")
    print(f"gpu_check_passed: {sum(r['ok'] for r in results)}/{len(results)}")


if __name__ == "__main__":
    main()
