"""Cross-field checks on the composed config, each saying what is wrong and what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

STAGES = ("annotate", "sft", "rl", "eval")


class ConfigError(ValueError):
    pass


def _positive(cfg: Any, *keys: str) -> None:
    for key in keys:
        value = OmegaConf.select(cfg, key)
        if value is None or float(value) <= 0:
            raise ConfigError(f"invalid {key}={value!r}: must be a number > 0")


def validate(cfg: Any) -> None:
    from .algos import available_advantages, available_losses

    bad = [s for s in cfg.stages if s not in STAGES]
    if bad:
        raise ConfigError(f"invalid stages {bad}: choose from {', '.join(STAGES)} (in that order)")
    _positive(cfg, "annotate.frames", "sft.epochs", "sft.batch_size", "sft.grad_accum", "sft.lr", "rl.trajectories",
              "rl.envs", "rl.max_turns", "rl.temperature", "rl.top_p", "rl.max_new_tokens", "rl.lr",
              "rl.minibatch_size", "rl.micro_batch_size", "rl.epochs", "eval.episodes", "eval.max_turns",
              "algo.group_size", "rl.critic.lr", "rl.critic.minibatch_size")
    if int(cfg.rl.steps) < 0:
        raise ConfigError(f"invalid rl.steps={cfg.rl.steps}: must be >= 0")
    if float(cfg.rl.top_p) > 1:
        raise ConfigError(f"invalid rl.top_p={cfg.rl.top_p}: must be in (0, 1]")
    if not 0 < float(cfg.algo.gamma) <= 1:
        raise ConfigError(f"invalid algo.gamma={cfg.algo.gamma}: must be in (0, 1]")
    if cfg.algo.advantage not in available_advantages():
        raise ConfigError(f"unknown algo.advantage={cfg.algo.advantage!r}; available: {', '.join(available_advantages())}")
    if cfg.algo.loss not in available_losses():
        raise ConfigError(f"unknown algo.loss={cfg.algo.loss!r}; available: {', '.join(available_losses())}")
    if str(cfg.algo.advantage).startswith("ppo") and not cfg.algo.critic:
        raise ConfigError(f"algo.advantage={cfg.algo.advantage} needs the critic: set algo.critic=true")
    if int(cfg.rl.trajectories) % int(cfg.algo.group_size):
        raise ConfigError(
            f"rl.trajectories={cfg.rl.trajectories} is not a multiple of algo.group_size={cfg.algo.group_size}: "
            "every GRPO group needs the same number of trajectories"
        )
    if int(cfg.rl.micro_batch_size) > int(cfg.rl.minibatch_size):
        raise ConfigError(
            f"rl.micro_batch_size={cfg.rl.micro_batch_size} exceeds rl.minibatch_size={cfg.rl.minibatch_size}"
        )
    if cfg.rl.curriculum not in ("inverse_length", "uniform"):
        raise ConfigError(f"invalid rl.curriculum={cfg.rl.curriculum!r}: expected inverse_length or uniform")
    if cfg.model.lora and cfg.model.full_finetune:
        raise ConfigError("model.lora and model.full_finetune are both true: pick one")
    if float(cfg.algo.kl_coef) > 0 and not cfg.model.lora:
        raise ConfigError("algo.kl_coef > 0 needs a LoRA policy (its reference is the model with the adapter off)")
    bad = [p for p in cfg.eval.policies if p not in ("base", "sft", "rl") and not Path(str(p)).is_dir()]
    if bad:
        raise ConfigError(f"invalid eval.policies {bad}: each is base, sft, rl or a saved policy directory")
    if not cfg.env.levels:
        raise ConfigError("env.levels is empty: name at least one level to train on")
