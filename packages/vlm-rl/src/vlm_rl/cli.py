"""Hydra entry points: each `python -m vlm_rl.<stage>` composes `conf/config.yaml` and runs a plain function."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import hydra
from omegaconf import DictConfig

from .config import validate


def setup(cfg: Any) -> None:
    """Process-wide settings every stage wants: threads, quiet libraries."""
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if int(cfg.threads) > 0:
        torch.set_num_threads(int(cfg.threads))
    for name in ("transformers", "httpx", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)


def hydra_main(fn: Callable[[DictConfig], Any], stages: Sequence[str] | None = None) -> None:
    @hydra.main(version_base=None, config_path="conf", config_name="config")
    def _main(cfg: DictConfig) -> Any:
        validate(cfg)
        setup(cfg)
        return fn(cfg)

    _main()


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """The composed config for `overrides`, as the command line would build and check it (for tests, notebooks
    and `vlm_rl.compare`): `conf/config.yaml` for the recipe's stages, `conf/sb3.yaml` for the SB3 baselines."""
    from hydra import compose as _compose
    from hydra import initialize_config_module

    with initialize_config_module(config_module="vlm_rl.conf", version_base=None):
        cfg = _compose(config_name=config_name, overrides=list(overrides))
    if config_name == "config":  # the recipe's cross-field checks; sb3.yaml is plain SB3 settings
        validate(cfg)
    return cfg
