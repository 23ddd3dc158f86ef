"""Training checkpoints: the policy, the critic and every bit of trainer state, in safetensors + JSON.

    RUN/STAGE/ckpt/step_000012/policy/           (models.policy.save_policy)
    RUN/STAGE/ckpt/step_000012/critic.safetensors
    RUN/STAGE/ckpt/step_000012/trainer.safetensors   optimizer moments, torch RNG
    RUN/STAGE/ckpt/step_000012/trainer.json          step, optimizer param groups, numpy/python RNG, extras
    RUN/STAGE/ckpt/latest                            name of the newest complete checkpoint

A checkpoint is written under a temporary name and renamed when complete; `latest`
moves last. Loading checks every file and falls back to the previous checkpoint,
saying why, if the newest one is damaged.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)
KEEP = 2


class CheckpointError(RuntimeError):
    pass


def optimizer_to_flat(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for k, v in state.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.{idx}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(opt: torch.optim.Optimizer, prefix: str, tensors: dict, meta: dict) -> None:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith(prefix + "."):
            idx, k = key[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(idx), {})[k] = v
    for key, v in meta["scalars"].items():
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_state(np_rng: np.random.Generator | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    meta = {"python": random.getstate()}
    if np_rng is not None:
        meta["numpy"] = np_rng.bit_generator.state
    return {"rng.torch": torch.get_rng_state()}, meta


def set_rng_state(tensors: dict, meta: dict, np_rng: np.random.Generator | None = None) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    py = meta["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if np_rng is not None and "numpy" in meta:
        np_rng.bit_generator.state = meta["numpy"]


def save_checkpoint(
    root: str | Path,
    step: int,
    *,
    save_policy_fn,
    optimizers: dict[str, torch.optim.Optimizer],
    critic: torch.nn.Module | None = None,
    np_rng: np.random.Generator | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write checkpoint `step` under root (save_policy_fn(path) writes the policy directory)."""
    root = Path(root)
    name = f"step_{step:06d}"
    final, tmp = root / name, root / (name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_policy_fn(tmp / "policy")
    if critic is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in critic.state_dict().items()}, tmp / "critic.safetensors")
    tensors, meta = rng_state(np_rng)
    meta["optimizers"] = {}
    for key, opt in optimizers.items():
        t, m = optimizer_to_flat(opt, f"opt.{key}")
        tensors.update(t)
        meta["optimizers"][key] = m
    save_file(tensors, tmp / "trainer.safetensors")
    (tmp / "trainer.json").write_text(json.dumps({"step": step, **meta, "extra": extra or {}}))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    pointer = root / "latest.tmp"
    pointer.write_text(name)
    os.replace(pointer, root / "latest")
    for old in sorted(p for p in root.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _candidates(root: Path) -> list[Path]:
    done = sorted((p for p in root.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp")), reverse=True)
    latest = root / "latest"
    if latest.is_file():
        named = root / latest.read_text().strip()
        done = [named] + [p for p in done if p != named]
    return done


def find_checkpoint(root: str | Path) -> tuple[Path, dict, dict] | None:
    """The newest readable checkpoint as (dir, trainer tensors, trainer meta), or None if there is none."""
    root = Path(root)
    if not root.is_dir():
        return None
    errors = []
    for cand in _candidates(root):
        try:
            meta = json.loads((cand / "trainer.json").read_text())
            tensors = load_file(cand / "trainer.safetensors")
            if not (cand / "policy").is_dir():
                raise FileNotFoundError("policy/ is missing")
            if (cand / "critic.safetensors").exists():
                load_file(cand / "critic.safetensors")
            if errors:
                log.warning("resuming from %s instead: %s", cand, "; ".join(errors))
            return cand, tensors, meta
        except Exception as e:  # json, safetensors and OS errors alike mean "damaged"
            errors.append(f"{cand.name} is damaged ({type(e).__name__}: {e})")
    if errors:
        raise CheckpointError(
            f"no readable checkpoint under {root}: {'; '.join(errors)}. Delete the damaged ones to start "
            "this stage over, or restore them from a backup"
        )
    return None


def restore(found: tuple[Path, dict, dict], optimizers: dict[str, torch.optim.Optimizer],
            np_rng: np.random.Generator | None = None, critic: torch.nn.Module | None = None) -> tuple[int, dict]:
    """Load a checkpoint from `find_checkpoint` into the trainer's optimizers, RNGs and critic (the policy
    itself is loaded from `found[0] / "policy"` with the model). Returns (step, extra). SFT and RL both
    resume through here."""
    path, tensors, meta = found
    for key, opt in optimizers.items():
        optimizer_from_flat(opt, f"opt.{key}", tensors, meta["optimizers"][key])
    if critic is not None:
        critic.load_state_dict(load_file(path / "critic.safetensors"))
    set_rng_state(tensors, meta, np_rng)
    return int(meta["step"]), meta["extra"]
