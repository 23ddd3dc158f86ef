"""Training checkpoints: the policy, the critic and every bit of trainer state, in safetensors + JSON.

    RUN/STAGE/ckpt/step_000012/policy/           (models.policy.save_policy)
    RUN/STAGE/ckpt/step_000012/critic.safetensors
    RUN/STAGE/ckpt/step_000012/trainer.safetensors   optimizer moments, torch RNG
    RUN/STAGE/ckpt/step_000012/trainer.json          step, optimizer param groups, numpy/python RNG, extras
    RUN/STAGE/ckpt/step_000012/vlm_rl_manifest.json  size and SHA-256 of every file above (written last)
    RUN/STAGE/ckpt/latest                            name of the newest complete checkpoint (a hint only)

A checkpoint is written under a temporary name and renamed when complete. Loading
takes the highest step whose manifest verifies (safetensors has no checksum, so a
flipped bit would otherwise load silently) and falls back to the previous one,
naming the damaged files. `write_manifest` / `verify_manifest` protect any other
directory, e.g. a final policy, the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)
KEEP = 2
MANIFEST = "vlm_rl_manifest.json"
_STEP = re.compile(r"step_(\d+)")


class CheckpointError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(root: str | Path) -> Path:
    """Record the size and SHA-256 of every file under `root` (recursively) in root/MANIFEST."""
    root = Path(root)
    files = {}
    for f in sorted(p for p in root.rglob("*") if p.is_file() and p != root / MANIFEST):
        files[f.relative_to(root).as_posix()] = {"size": f.stat().st_size, "sha256": _sha256(f)}
    out = root / MANIFEST
    out.write_text(json.dumps({"files": files}, indent=1))
    return out


def manifest_problems(root: str | Path) -> list[str]:
    """What under `root` no longer matches its manifest, one "file: what" each; empty if all is intact."""
    root = Path(root)
    try:
        files = json.loads((root / MANIFEST).read_text())["files"]
    except FileNotFoundError:
        return [f"{MANIFEST}: missing (it is written last, so the directory was never finished)"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"{MANIFEST}: unreadable ({type(e).__name__}: {e})"]
    problems = []
    for rel, want in files.items():
        f = root / rel
        if not f.is_file():
            problems.append(f"{rel}: missing")
        elif (size := f.stat().st_size) != want["size"]:
            problems.append(f"{rel}: {size} bytes, the manifest says {want['size']} (truncated or overwritten)")
        elif _sha256(f) != want["sha256"]:
            problems.append(f"{rel}: SHA-256 differs from the manifest (corrupted on disk or overwritten)")
    return problems


def verify_manifest(root: str | Path, *, required: bool = True) -> None:
    """Raise CheckpointError naming the damaged files unless every file under `root` matches its manifest.
    With required=False a directory without a manifest (saved before manifests existed) passes with a warning."""
    root = Path(root)
    if not required and not (root / MANIFEST).exists():
        log.warning("%s has no %s, so its files cannot be checked for damage", root, MANIFEST)
        return
    problems = manifest_problems(root)
    if problems:
        raise CheckpointError(
            f"{root} is damaged: {'; '.join(problems)}. Its files no longer match the SHA-256 manifest written "
            "when it was saved; re-run the stage that wrote it, or restore the directory from a backup"
        )


def optimizer_to_flat(opt: torch.optim.Optimizer | dict, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt if isinstance(opt, dict) else opt.state_dict()
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
    optimizers: dict[str, torch.optim.Optimizer | dict],
    critic: torch.nn.Module | None = None,
    np_rng: np.random.Generator | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write checkpoint `step` under root (save_policy_fn(path) writes the policy directory). `optimizers`
    holds optimizers or their state_dict() taken beforehand (a sharded one's is a collective)."""
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
    write_manifest(tmp)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    pointer = root / "latest.tmp"
    pointer.write_text(name)
    os.replace(pointer, root / "latest")
    for old in _step_dirs(root)[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _step_dirs(root: Path) -> list[Path]:
    """Finished step dirs, highest step first (by number: names stop sorting once steps pass 999999)."""
    dirs = [p for p in root.iterdir() if p.is_dir() and _STEP.fullmatch(p.name)]
    return sorted(dirs, key=lambda p: int(p.name[5:]), reverse=True)


def _note_latest(root: Path, chosen: Path) -> None:
    # `latest` is only a hint: a crash between the rename and the pointer leaves it stale, harmlessly
    try:
        named = (root / "latest").read_text().strip()
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError):
        named = None
    if named is None or not _STEP.fullmatch(named):
        log.warning("%s/latest is garbled (%r); using %s, the newest checkpoint that verifies",
                    root, named, chosen.name)
    elif int(named[5:]) < int(chosen.name[5:]):
        log.info("%s/latest names %s but %s is newer and complete; using %s", root, named, chosen.name, chosen.name)


def find_checkpoint(root: str | Path) -> tuple[Path, dict, dict] | None:
    """The highest-step checkpoint whose files match its manifest, as (dir, trainer tensors, trainer meta),
    or None if there is none. Damaged ones are skipped with a warning naming their files."""
    root = Path(root)
    if not root.is_dir():
        return None
    errors = []
    for cand in _step_dirs(root):
        problems = manifest_problems(cand)
        if not problems:
            try:
                meta = json.loads((cand / "trainer.json").read_text())
                tensors = load_file(cand / "trainer.safetensors")
            except Exception as e:  # json, safetensors and OS errors alike mean "damaged"
                problems = [f"trainer state unreadable ({type(e).__name__}: {e})"]
        if problems:
            errors.append(f"{cand.name} is damaged ({'; '.join(problems)})")
            continue
        if errors:
            log.warning("resuming from %s instead: %s", cand, "; ".join(errors))
        _note_latest(root, cand)
        return cand, tensors, meta
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
