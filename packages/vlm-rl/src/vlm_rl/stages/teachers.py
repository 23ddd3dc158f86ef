"""Teachers that annotate frames with `<perception>`, `<reasoning>` and `<answer>`.

`RamTeacher` needs no model: it describes the screen from the game's RAM (the
spec's `Scene`, in the vocabulary of `vlm_rl.perception`) and answers with the
game's scripted player.
`OpenAITeacher` asks any OpenAI-compatible chat endpoint.
"""

from __future__ import annotations

import base64
import io
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np

from gb_gym.spec import Scene

from ..parsing import parse_response
from ..perception import perception_text, scene_facts
from ..prompts import prompt_text

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
