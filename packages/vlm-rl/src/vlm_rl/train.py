"""The main job: annotate -> SFT -> RL -> evaluation, each stage resumable.

    python -m vlm_rl.train +exp=hopland            # our cartridge, tiny model, CPU (~20 min)
    python -m vlm_rl.train +exp=hopland resume=true # continue after a kill; finished stages are skipped
    python -m vlm_rl.train +exp=kirby              # the paper's settings; needs the ROM and the model

`train(cfg)` is a plain function: tests call it with a composed config.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from .envs import check_game

log = logging.getLogger(__name__)


def _prepare(cfg: Any) -> None:
    out = Path(cfg.out_dir)
    if not cfg.resume and any((out / d).exists() for d in ("data", "sft", "rl", "eval")):
        raise FileExistsError(
            f"{out} already holds a run: pass resume=true to continue it, or choose another out_dir=..."
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    # the ROM and levels are checked before any model is loaded, then that the weights are here
    check_game(cfg.env)
    if not str(cfg.model.path).startswith("tiny"):
        from .models import check_model_available

        check_model_available(str(cfg.model.path))


def train(cfg: Any) -> dict[str, Any]:
    """Run the configured stages. Under `accelerate launch` every process runs RL on its own envs;
    annotation, SFT and evaluation run on the main process while the others wait."""
    from .dist import Dist
    from .policy_io import pick_device

    dist = Dist(cpu=pick_device(str(cfg.device)) == "cpu")
    error = None
    if dist.is_main:
        try:
            _prepare(cfg)
        except Exception as e:  # the other processes must not start on a run that cannot go on
            error = e
    if any(dist.gather(error is not None)):
        raise error or RuntimeError("the main process could not prepare the run; see its error")
    out = Path(cfg.out_dir)
    timings, result = {}, {}
    for stage in ("annotate", "sft", "rl", "eval"):
        if stage not in cfg.stages:
            continue
        t0 = time.perf_counter()
        if stage != "rl" and not dist.is_main:
            dist.barrier()
            continue
        if stage == "annotate":
            from .annotate import annotate

            annotate(cfg)
        elif stage == "sft":
            from .sft import sft

            sft(cfg)
        elif stage == "rl":
            from .rl import initial_policy, rl

            rl(cfg, initial_policy(cfg))
        else:
            from .evaluate import evaluate

            result = evaluate(cfg)
        if stage != "rl":
            dist.barrier()
        timings[stage] = round(time.perf_counter() - t0, 1)
        log.info("stage %s done in %.0f s", stage, timings[stage])
    if dist.is_main:
        (out / "timings.json").write_text(json.dumps(timings, indent=1))
    return {"timings": timings, **result}


def main() -> None:
    from .cli import hydra_main

    hydra_main(train)


if __name__ == "__main__":
    main()
