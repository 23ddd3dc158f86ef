"""Building the actor from the `model` config, and saving / loading trained policies.

A policy directory is a Hugging Face model directory (full fine-tuning) or a peft
adapter directory (LoRA), both in safetensors, plus the processor and
`vlm_rl_policy.json` naming the base model. Directories are written to a
temporary name and renamed, so a crash never leaves half a policy behind.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import verify_manifest, write_manifest
from ..guards import check_parameters
from ..sharding import is_sharded
from .actor import VLMActor
from .load import load_policy, resolve_model
from .tiny import default_corpus, ensure_tiny_model

POLICY_META = "vlm_rl_policy.json"


def base_model_path(model_cfg: Any, corpus: list[str] | None = None) -> str:
    """The model to start from: a preset, hub id or directory; `tiny` is built offline (tokenizer on `corpus`)."""
    path = str(model_cfg.path)
    if path == "tiny" or path.startswith("tiny:"):
        family = str(model_cfg.family)
        return str(ensure_tiny_model(family, corpus=(default_corpus() + corpus) if corpus else None))
    return resolve_model(path)


def _load_kwargs(model_cfg: Any, device: str) -> dict:
    return dict(
        lora=bool(model_cfg.lora),
        lora_r=int(model_cfg.lora_r),
        lora_alpha=int(model_cfg.lora_alpha),
        full_finetune=bool(model_cfg.full_finetune),
        train_vision=bool(model_cfg.train_vision),
        load_in_4bit=bool(model_cfg.load_in_4bit),
        dtype=str(model_cfg.dtype),
        gradient_checkpointing=bool(model_cfg.gradient_checkpointing),
        device=device,
    )


def load_model(model_cfg: Any, device: str, checkpoint: str | Path | None = None, corpus: list[str] | None = None):
    """(model, processor, base path): the base model, or a saved policy on top of it, ready to train."""
    if checkpoint is None:
        base = base_model_path(model_cfg, corpus)
        model, processor = load_policy(base, **_load_kwargs(model_cfg, device))
        return model, processor, base
    checkpoint = Path(checkpoint)
    meta_path = checkpoint / POLICY_META
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{checkpoint} is not a saved vlm-rl policy (no {POLICY_META}); pass a directory written by the "
            "sft or rl stage"
        )
    verify_manifest(checkpoint, required=False)  # policies from before manifests load with a warning
    meta = json.loads(meta_path.read_text())
    if meta["lora"]:
        from peft import PeftModel

        kwargs = _load_kwargs(model_cfg, device) | {"lora": False, "full_finetune": False}
        model, processor = load_policy(meta["base"], **kwargs)
        model = PeftModel.from_pretrained(model, checkpoint, is_trainable=True)
    else:
        kwargs = _load_kwargs(model_cfg, device) | {"lora": False, "full_finetune": True}
        model, processor = load_policy(str(checkpoint), **kwargs)
    return model, processor, meta["base"]


def make_actor(model, processor, game: str, model_cfg: Any, rl_cfg: Any | None = None, **overrides) -> VLMActor:
    # FSDP reduces a unit's gradients once backward reaches its inputs: a first forward (the shared prompt's
    # KV cache) feeding the second would be cut off, so a sharded model computes the whole prompt each time
    kw = dict(upscale=int(model_cfg.upscale), n_history=int(model_cfg.n_history), share_prefix=not is_sharded(model),
              prompt_style=str(model_cfg.prompt))
    if rl_cfg is not None:
        kw.update(temperature=float(rl_cfg.temperature), top_p=float(rl_cfg.top_p),
                  max_new_tokens=int(rl_cfg.max_new_tokens))
    kw.update(overrides)
    return VLMActor(model, processor, game, **kw)


def save_policy(model, processor, out: str | Path, base: str, extra: dict | None = None,
                state_dict: dict[str, torch.Tensor] | None = None) -> Path:
    """Write the policy to `out`; `state_dict`: its weights gathered from a sharded model (vlm_rl.sharding)."""
    out = Path(out)
    named = state_dict.items() if state_dict is not None else model.named_parameters()
    check_parameters(named, f"saving the policy to {out}", "a learning rate too high")
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True, state_dict=state_dict)
    processor.save_pretrained(tmp)
    meta = {"base": base, "lora": hasattr(model, "peft_config"), **(extra or {})}
    (tmp / POLICY_META).write_text(json.dumps(meta, indent=1))
    write_manifest(tmp)  # SHA-256 of every file, checked on load
    old = out.with_name(out.name + ".old")
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"invalid device={device!r}: expected auto, cpu or cuda")
    return device
