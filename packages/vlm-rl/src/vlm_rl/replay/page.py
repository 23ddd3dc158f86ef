"""The replay viewer: one self-contained HTML file (inline CSS, JS, and frames as PNG data URIs)."""

from __future__ import annotations

import base64
import io
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image

from .render import render


def png_uri(frame: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def episode_key(ep: dict[str, Any]) -> str:
    """What makes two policies' episodes the same start: level, seed and group (a saved state's label)."""
    return f"{ep['level']}/{ep['seed']}/{ep['group']}"


def spread(episodes: list[dict], n: int) -> list[dict]:
    """At most n episodes, evenly spaced over the ranks of progress (the best and the worst included)."""
    if len(episodes) <= n:
        return episodes
    ranked = sorted(episodes, key=lambda e: e["progress"])
    picks = sorted({round(i * (len(ranked) - 1) / max(n - 1, 1)) for i in range(n)})
    return [ranked[i] for i in picks]


def choose(docs: list[dict], n: int) -> list[list[dict]]:
    """The episodes each list shows: spread over progress per RL step; for evaluated policies, the same
    starts in every policy (picked on the first), so that they can be compared seed by seed."""
    eval_keys: set[str] | None = None
    out = []
    for doc in docs:
        eps = doc["episodes"]
        if doc["kind"] != "eval":
            out.append(spread(eps, n))
            continue
        if eval_keys is None:
            eval_keys = {episode_key(e) for e in spread(eps, n)}
        out.append([e for e in eps if episode_key(e) in eval_keys])
    return out


def build_page(docs: list[dict], env: gym.Env, title: str, max_episodes: int = 24) -> str:
    """The viewer's HTML for replay files `docs` (read_replay's dicts), re-rendering every shown episode."""
    lists = []
    for doc, shown in zip(docs, choose(docs, max_episodes), strict=True):
        episodes = []
        for ep in shown:
            frames = [png_uri(f) for f in render(env, ep)]
            episodes.append({**{k: v for k, v in ep.items() if k != "state"}, "key": episode_key(ep), "frames": frames})
        lists.append({k: v for k, v in doc.items() if k != "episodes"}
                     | {"episodes": episodes, "shown": len(episodes), "total": len(doc["episodes"])})
    data = json.dumps({"title": title, "lists": lists}, separators=(",", ":")).replace("</", "<\\/")
    template = files("vlm_rl.replay").joinpath("viewer.html").read_text(encoding="utf-8")
    return template.replace("__TITLE__", title.replace("&", "&amp;").replace("<", "&lt;")).replace("__DATA__", data)


def write_page(docs: list[dict], env: gym.Env, path: Path, title: str, max_episodes: int = 24) -> Path:
    path.write_text(build_page(docs, env, title, max_episodes), encoding="utf-8")
    return path
