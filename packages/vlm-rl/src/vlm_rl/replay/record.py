"""Episodes in replayable form: the job (level, seed, start state) and the actions, plus what each turn said
and scored. No frames: the emulator is deterministic, so `render` re-makes them from the actions.

A replay file (gzipped JSON) holds one list of episodes:

    {"kind": "rl" | "eval", "title": "RL step 5", "step": 5, "policy": null, "returns": "estimator",
     "episodes": [{"level", "seed", "group", "state" (base64 of zlib'd emulator state, or null),
                   "progress", "end", "total_reward",
                   "turns": [{"action" (buttons, null: invalid answer), "reward", "text", "tags"
                              {perception, reasoning, answer}, "strict", "logprob" (sum over the
                              response), "tokens", "ram" / "said" (perception facts from RAM / from the
                              text), "value", "return", "advantage", "kept"}]}]}

RL steps store the critic's values, the estimator's advantages and returns (its regression target),
and whether the turn was kept (positive advantage, not cut by rl.drop_last_turns). Evaluation has no
critic: its "return" is the discounted reward-to-go and value / advantage are null.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..parsing import tag_texts
from ..perception import facts_from_text, scene_facts
from ..rollout import Episode


def _num(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 6)


def encode_state(state: bytes | None) -> str | None:
    return None if state is None else base64.b64encode(zlib.compress(state, 9)).decode()


def decode_state(text: str | None) -> bytes | None:
    return None if text is None else zlib.decompress(base64.b64decode(text))


def reward_to_go(rewards: Sequence[float], gamma: float) -> list[float]:
    out, acc = [0.0] * len(rewards), 0.0
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def episode_record(ep: Episode, values: Sequence[float] | None = None, returns: Sequence[float] | None = None,
                   advantages: Sequence[float] | None = None, kept: Sequence[bool] | None = None) -> dict[str, Any]:
    """One episode with per-turn fields (arrays aligned with ep.steps; NaN / None where a turn has none)."""
    turns = []
    for t, s in enumerate(ep.steps):
        turn = s.record
        text = getattr(turn, "text", "")
        parsed = getattr(turn, "parsed", None)
        logprobs = getattr(turn, "logprobs", None)
        turns.append({
            "action": None if s.action is None else list(s.action),
            "reward": _num(s.reward),
            "text": text,
            "tags": tag_texts(text),
            "strict": bool(parsed.strict) if parsed is not None else None,
            "logprob": _num(float(logprobs.sum())) if logprobs is not None else None,
            "tokens": int(len(logprobs)) if logprobs is not None else None,
            "ram": scene_facts(s.scene) if s.scene is not None else None,
            "said": facts_from_text(parsed.perception if parsed is not None else None),
            "value": _num(values[t]) if values is not None else None,
            "return": _num(returns[t]) if returns is not None else None,
            "advantage": _num(advantages[t]) if advantages is not None else None,
            "kept": bool(kept[t]) if kept is not None else None,
        })
    return {"level": ep.job.level, "seed": ep.job.seed, "group": ep.job.group, "state": encode_state(ep.job.state),
            "progress": ep.progress, "end": ep.end, "total_reward": _num(ep.total_reward), "turns": turns}


def eval_record(ep: Episode, gamma: float) -> dict[str, Any]:
    """An evaluation episode: no critic, the return is the discounted reward-to-go."""
    return episode_record(ep, returns=reward_to_go([s.reward for s in ep.steps], gamma))


def rl_records(episodes: Sequence[Episode], rows: torch.Tensor, values: torch.Tensor | None, returns: torch.Tensor,
               advantages: torch.Tensor, keep: torch.Tensor) -> list[dict[str, Any]]:
    """One RL step's episodes. The estimator's outputs are per remaining turn: `rows` says which step (counted
    over the episodes in order) each one is; turns cut by rl.drop_last_turns get no numbers and are not kept.
    `values` is None without a critic."""
    n = sum(len(ep.steps) for ep in episodes)

    def spread_out(x: torch.Tensor | None) -> list[float]:
        full = torch.full((n,), float("nan"), dtype=torch.float64)
        if x is not None:
            full[rows] = x.double()
        return full.tolist()

    cols = {"values": spread_out(values), "returns": spread_out(returns), "advantages": spread_out(advantages)}
    kept = torch.zeros(n, dtype=torch.bool)
    kept[rows] = keep
    records, start = [], 0
    for ep in episodes:
        sl = slice(start, start + len(ep.steps))
        start = sl.stop
        records.append(episode_record(ep, **{k: v[sl] for k, v in cols.items()}, kept=kept[sl].tolist()))
    return records


def write_replay(path: Path, episodes: list[dict], *, kind: str, title: str, step: int | None = None,
                 policy: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"kind": kind, "title": title, "step": step, "policy": policy,
           "returns": "estimator" if kind == "rl" else "reward_to_go", "episodes": episodes}
    tmp = path.with_name(path.name + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"))
    tmp.replace(path)
    return path


def read_replay(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def keep_rl_step(step: int, steps: int, every: int) -> bool:
    """Which RL steps keep their episodes: the first, every `every`-th and the last (none when every=0)."""
    return every > 0 and (step == 1 or step % every == 0 or step == steps)
