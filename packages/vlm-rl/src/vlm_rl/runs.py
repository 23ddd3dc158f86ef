"""The run folder: the only code that knows where each stage reads and writes.

    RUN/config.yaml  timings.json
    RUN/data/                 annotated frames (DONE.json when complete), teacher_cache.jsonl
    RUN/sft/policy/  sft/ckpt/  sft/report.json (written last: SFT is done)
    RUN/rl/policy/   rl/ckpt/   rl/curve.jsonl  rl/DONE.json  rl/replays/step_NNNNN.json.gz
    RUN/eval/results.{md,csv,json}  eval/perception.json  eval/*.gif  eval/replays/<policy>.json.gz
    RUN/replay.html           the replay viewer (python -m vlm_rl.replay RUN)

Stages import this module, never each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .models.policy import POLICY_META

STAGE_DIRS = ("data", "sft", "rl", "eval")


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))

    data = property(lambda self: self.root / "data")
    sft = property(lambda self: self.root / "sft")
    rl = property(lambda self: self.root / "rl")
    eval = property(lambda self: self.root / "eval")
    config = property(lambda self: self.root / "config.yaml")
    timings = property(lambda self: self.root / "timings.json")
    teacher_cache = property(lambda self: self.data / "teacher_cache.jsonl")  # kept when annotate restarts
    sft_policy = property(lambda self: self.sft / "policy")
    rl_policy = property(lambda self: self.rl / "policy")
    sft_report = property(lambda self: self.sft / "report.json")
    rl_done_marker = property(lambda self: self.rl / "DONE.json")
    curve = property(lambda self: self.rl / "curve.jsonl")
    eval_results = property(lambda self: self.eval / "results.json")
    sb3_done_marker = property(lambda self: self.root / "DONE.json")
    sb3_curve = property(lambda self: self.root / "curve.jsonl")
    replay_page = property(lambda self: self.root / "replay.html")

    def rl_replay(self, step: int) -> Path:
        """The episodes of RL step `step` in replayable form (vlm_rl.replay)."""
        return self.rl / "replays" / f"step_{step:05d}.json.gz"

    def eval_replay(self, label: str) -> Path:
        """The episodes one evaluated policy played (label as in results.json: 'SFT', 'RL (greedy)', ...)."""
        stem = "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")
        return self.eval / "replays" / f"{stem}.json.gz"

    def replays(self) -> list[Path]:
        """Every replay file of the run: RL steps in order, then the evaluated policies."""
        return sorted((self.rl / "replays").glob("step_*.json.gz")) + sorted((self.eval / "replays").glob("*.json.gz"))

    def ckpt(self, stage: str) -> Path:
        return self.root / stage / "ckpt"

    def holds_run(self) -> bool:
        return any((self.root / d).exists() for d in STAGE_DIRS)

    def done(self, stage: str) -> bool:
        """Whether `stage` (annotate, sft, rl, eval, sb3) finished in this run."""
        if stage == "annotate":
            return (self.data / "DONE.json").is_file()
        if stage == "sft":
            return self.sft_report.is_file() and (self.sft_policy / POLICY_META).is_file()
        if stage == "rl":
            return self.rl_done_marker.is_file() and (self.rl_policy / POLICY_META).is_file()
        if stage == "eval":
            return self.eval_results.is_file()
        if stage == "sb3":
            return self.sb3_done_marker.is_file()
        raise ValueError(f"unknown stage {stage!r}: expected annotate, sft, rl, eval or sb3")

    def mark_rl_done(self, steps: int, samples: int) -> None:
        self.rl_done_marker.write_text(json.dumps({"steps": steps, "samples": samples}))

    def policy(self, name: str) -> str | None:
        """A policy named in eval.policies: base (None: the base model), sft, rl, or a saved policy dir."""
        return {"base": None, "sft": str(self.sft_policy), "rl": str(self.rl_policy)}.get(name, name)

    def rl_start(self, init: str) -> str | None:
        """The policy RL starts from. rl.init: `sft` (the SFT stage's policy), `base` (RL on the base model,
        the paper's Odysseus-Zero), `auto` (SFT's if it exists, else base) or a saved policy directory."""
        if init == "base":
            return None
        if init in ("sft", "auto"):
            if (self.sft_policy / POLICY_META).is_file():
                return str(self.sft_policy)
            if init == "sft":
                raise FileNotFoundError(f"rl.init=sft but {self.sft_policy} holds no SFT policy: run the sft stage "
                                        "first, or set rl.init=base to start RL from the base model")
            return None
        if not (Path(init) / POLICY_META).is_file():
            raise FileNotFoundError(f"rl.init={init!r} is not a saved policy directory (no {POLICY_META})")
        return init
