"""Hydra entry points: compose `conf/<name>.yaml` over its typed schema, check it, run a plain function."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from .config import Config, ConfigError, SB3Config, load, schema_keys

GROUPS = tuple(p.name for p in (Path(__file__).parent / "conf").iterdir() if p.is_dir() and p.name != "__pycache__")


def setup(cfg: Config | SB3Config) -> None:
    """Process-wide settings every stage wants: threads, quiet libraries."""
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    for name in ("transformers", "httpx", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)


def check_overrides(overrides: Sequence[str], schema: type = Config) -> None:
    """Unknown keys fail before Hydra composes anything, with the nearest real key ('+' appends included)."""
    import difflib

    keys = schema_keys(schema)
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        if "=" not in item or key.startswith("hydra") or key in GROUPS or key.split("/")[0] in GROUPS:
            continue
        if key not in keys:
            near = difflib.get_close_matches(key, sorted(keys), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]}?" if near else "; see conf/config.yaml and vlm_rl/config.py for the keys"
            raise ConfigError(f"unknown config key {key!r} in {item!r}{hint}")


def hydra_main(fn: Callable[[Any], Any], config_name: str = "config") -> None:
    schema = SB3Config if config_name == "sb3" else Config
    try:
        check_overrides(sys.argv[1:], schema)
    except ConfigError as e:
        sys.exit(f"error: {e}")

    @hydra.main(version_base=None, config_path="conf", config_name=config_name)
    def _main(tree: DictConfig) -> Any:
        try:
            cfg = load(tree)
        except ConfigError as e:
            sys.exit(f"error: {e}")
        setup(cfg)
        return fn(cfg)

    _main()


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> Any:
    """The typed, checked config for `overrides`, as the command line builds it (for tests, notebooks and
    `vlm_rl.compare`): `conf/config.yaml` for the recipe's stages, `conf/sb3.yaml` for the SB3 baselines."""
    from hydra import compose as _compose
    from hydra import initialize_config_module

    check_overrides(overrides, SB3Config if config_name == "sb3" else Config)
    with initialize_config_module(config_module="vlm_rl.conf", version_base=None):
        tree = _compose(config_name=config_name, overrides=list(overrides))
    return load(tree)
