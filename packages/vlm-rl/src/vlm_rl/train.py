"""The main job: annotate -> SFT -> RL -> evaluation, each stage resumable.

    python -m vlm_rl.train +exp=hopland            # our cartridge, tiny model, CPU
    python -m vlm_rl.train +exp=hopland resume=true # continue after a kill; finished stages are skipped
    python -m vlm_rl.train +exp=hopland stages=[eval] eval.policies=[sft]   # any subset of the stages
    python -m vlm_rl.train +exp=kirby              # the paper's settings; needs the ROM and the model

`train(cfg)` is a plain function of the typed config: tests call it with `cli.compose(...)`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from .config import Config, ConfigError, changed_keys, to_yaml
from .envs import check_game
from .runs import RunDir

log = logging.getLogger(__name__)
EVERY_PROCESS = ("sft", "rl")  # the training stages; the others run on the main process


def _stages() -> dict[str, Callable[[Config], Any]]:
    from .stages.annotate import annotate
    from .stages.evaluate import evaluate
    from .stages.rl import rl
    from .stages.sft import sft

    return {"annotate": annotate, "sft": sft, "rl": rl, "eval": evaluate}


def _prepare(cfg: Config) -> None:
    run = RunDir(cfg.out_dir)
    if not cfg.resume and run.holds_run():
        raise FileExistsError(
            f"{run.root} already holds a run: pass resume=true to continue it, or choose another out_dir=..."
        )
    run.root.mkdir(parents=True, exist_ok=True)
    if cfg.resume and run.config.is_file():
        saved = run.config.read_text()
        changed = changed_keys(saved, cfg)
        if changed and not cfg.allow_config_change:
            raise ConfigError(
                f"resume=true, but {run.config} was trained with other settings for {', '.join(changed)}: "
                "resume with the saved values, choose another out_dir, or pass allow_config_change=true"
            )
        if changed:  # the old config is kept beside the new one
            n = len(list(run.root.glob("config.before-resume-*.yaml")))
            (run.root / f"config.before-resume-{n + 1}.yaml").write_text(saved)
            log.warning("resuming %s with changed settings: %s", run.root, ", ".join(changed))
    run.config.write_text(to_yaml(cfg))
    from .sharding import check_launch

    check_launch(cfg.model)  # a sharded launch (accelerate's FSDP config) this model cannot run
    # the ROM and levels are checked before any model is loaded, then that the weights are here
    check_game(cfg.env)
    if not cfg.model.path.startswith("tiny"):
        from .models import check_model_available

        check_model_available(cfg.model.path)


def train(cfg: Config) -> dict[str, Any]:
    """Run the configured stages. Under `accelerate launch` every process trains: SFT on its share of each
    batch, RL on its own envs; annotation and evaluation run on the main process while the others wait."""
    from .dist import Dist
    from .models.policy import pick_device

    dist = Dist(cpu=pick_device(cfg.device) == "cpu")
    error = None
    if dist.is_main:
        try:
            _prepare(cfg)
        except Exception as e:  # the other processes must not start on a run that cannot go on
            error = e
    if any(dist.gather(error is not None)):
        raise error or RuntimeError("the main process could not prepare the run; see its error")
    timings, result = {}, {}
    for stage, fn in _stages().items():
        if stage not in cfg.stages:
            continue
        t0 = time.perf_counter()
        if stage not in EVERY_PROCESS and not dist.is_main:
            dist.barrier()
            continue
        out = fn(cfg)
        if stage == "eval":
            result = out
        if stage not in EVERY_PROCESS:
            dist.barrier()
        timings[stage] = round(time.perf_counter() - t0, 1)
        log.info("stage %s done in %.0f s", stage, timings[stage])
    if dist.is_main:
        RunDir(cfg.out_dir).timings.write_text(json.dumps(timings, indent=1))
    return {"timings": timings, **result}


def main() -> None:
    from .cli import hydra_main

    hydra_main(train)


if __name__ == "__main__":
    main()
