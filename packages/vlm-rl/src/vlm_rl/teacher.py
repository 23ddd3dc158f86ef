"""Teachers that annotate frames with `<perception>`, `<reasoning>` and `<answer>`.

`RamTeacher` needs no model: it describes the screen from the game's RAM (the
spec's `Scene`) and answers with the game's scripted player. Its perception text
uses a small fixed vocabulary, which also lets us measure how faithful a
policy's perception stays to the RAM (`perception_fidelity`).
`OpenAITeacher` asks any OpenAI-compatible chat endpoint.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np

from gb_gym.spec import Scene

from .parsing import parse_response
from .prompts import prompt_text

TILE = 8
VIEW_TILES = 12  # how far ahead the perception text looks
NEAR_TILES = 4  # "near": within a jump's reach from here
BIG = 4  # a pit this wide or a wall this high needs a running jump

# The answer's buttons in words, for the reasoning line
INTENTS = {
    (): "wait",
    ("right",): "hold right",
    ("b", "right"): "run right",
    ("a", "right"): "jump right",
    ("a",): "jump",
    ("left",): "step back",
    ("b", "left"): "back off",
    ("a", "left"): "jump back",
}


@dataclass(frozen=True)
class Annotation:
    perception: str
    reasoning: str
    buttons: tuple[str, ...]

    @property
    def text(self) -> str:
        answer = "[" + ", ".join(f"'{b}'" for b in (self.buttons or ("noop",))) + "]"
        return (
            f"<perception>{self.perception}</perception>"
            f"<reasoning>{self.reasoning}</reasoning><answer>{answer}</answer>"
        )


def _near(tiles: int) -> str:
    return "near" if tiles <= NEAR_TILES else "ahead"


def scene_facts(scene: Scene) -> dict[str, str]:
    """What a perception text should state, from RAM, in words one can read off the screen:
    stance, the nearest hazard (pit or wall; wide / high when it needs a running jump; near or
    ahead) and the nearest enemy ahead (near or ahead)."""
    facts = {"stance": "ground" if scene.on_ground else "air", "hazard": "no hazard", "enemy": "no enemy"}
    terrain = scene.terrain or ()
    here = terrain[0] if terrain else 0
    for i in range(1, min(len(terrain), VIEW_TILES)):
        if terrain[i] == 0:
            width = 1
            while i + width < len(terrain) and terrain[i + width] == 0:
                width += 1
            facts["hazard"] = f"{'wide ' if width >= BIG else ''}pit {_near(i)}"
            break
        if terrain[i] > here:
            facts["hazard"] = f"{'high ' if terrain[i] - here >= BIG else ''}wall {_near(i)}"
            break
        here = terrain[i]
    ahead = sorted((e for e in scene.enemies if 0 <= e.dx < VIEW_TILES * TILE), key=lambda e: e.dx)
    if ahead:
        facts["enemy"] = f"enemy {_near(ahead[0].dx // TILE)}"
    return facts


def perception_text(facts: dict[str, str]) -> str:
    stance = "on ground" if facts["stance"] == "ground" else "in air"
    return f"{stance}. {facts['hazard']}. {facts['enemy']}."


def reasoning_text(facts: dict[str, str], buttons: tuple[str, ...]) -> str:
    """"<what matters most>: <what to do>", e.g. "pit near: jump right"."""
    if facts["stance"] == "air":
        subject = "in air"
    elif facts["hazard"].endswith("near"):
        subject = facts["hazard"]
    elif facts["enemy"] == "enemy near":
        subject = "enemy near"
    else:
        subject = "clear"
    return f"{subject}: {INTENTS.get(tuple(buttons), '+'.join(buttons))}"


_FACT_PATTERNS = {
    "stance": re.compile(r"\b(?:on (ground)|in (air))\b"),
    "hazard": re.compile(r"\b(no hazard|(?:(?:wide )?pit|(?:high )?wall) (?:near|ahead))\b"),
    "enemy": re.compile(r"\b(no enemy|enemy (?:near|ahead))\b"),
}


def facts_from_text(text: str | None) -> dict[str, str | None]:
    """Read the facts back out of a perception text (None where a fact is not stated)."""
    out: dict[str, str | None] = {}
    for key, pat in _FACT_PATTERNS.items():
        m = pat.search(text or "")
        if not m:
            out[key] = None
        elif key == "stance":
            out[key] = m.group(1) or m.group(2)
        else:
            out[key] = m.group(1)
    return out


def perception_fidelity(pairs: list[tuple[str | None, Scene]]) -> dict[str, float]:
    """How often perception texts agree with RAM: exact (every fact right) and per fact."""
    if not pairs:
        return {}
    hits = {k: 0 for k in _FACT_PATTERNS}
    exact = 0
    for text, scene in pairs:
        want, got = scene_facts(scene), facts_from_text(text)
        ok = {k: got[k] == want[k] for k in _FACT_PATTERNS}
        exact += all(ok.values())
        for k, v in ok.items():
            hits[k] += v
    n = len(pairs)
    return {"perception_exact": exact / n, **{f"perception_{k}": v / n for k, v in hits.items()}}


class RamTeacher:
    """Annotates from RAM: perception from the `Scene`, the answer from the game's scripted player,
    the reasoning tying the two together."""

    def annotate(self, scene: Scene, buttons: tuple[str, ...], reason: str = "") -> Annotation:
        facts = scene_facts(scene)
        return Annotation(perception_text(facts), reasoning_text(facts, tuple(buttons)), tuple(buttons))


@dataclass
class OpenAITeacher:
    """Any OpenAI-compatible chat completions endpoint (vLLM, llama.cpp, a hosted API).

    The key is read from the environment variable named by `api_key_env` at call time,
    and is never logged, stored or written into the dataset.
    """

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.2
    max_tokens: int = 512
    timeout: float = 60.0
    upscale: int = 4

    def annotate_frame(self, frame: np.ndarray, game: str) -> tuple[str, object]:
        """The teacher's raw reply and its parse, for one frame."""
        from PIL import Image

        img = Image.fromarray(frame)
        img = img.resize((img.width * self.upscale, img.height * self.upscale), Image.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        body = {
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": prompt_text(game)},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                }
            ],
        }
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(
            self.base_url.rstrip("/") + "/chat/completions", json.dumps(body).encode(), headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                reply = json.load(resp)
        except urllib.error.HTTPError as e:
            raise RuntimeError(
                f"teacher endpoint {self.base_url} answered HTTP {e.code}; check the URL, the model name "
                f"{self.model!r} and that ${self.api_key_env} holds a valid key"
            ) from None
        except urllib.error.URLError as e:
            raise RuntimeError(f"cannot reach the teacher endpoint {self.base_url}: {e.reason}") from None
        try:
            text = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"teacher endpoint {self.base_url} sent a reply without choices[0].message.content") from None
        return text, parse_response(text)
