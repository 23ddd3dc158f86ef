"""Teachers that annotate frames with `<perception>`, `<reasoning>` and `<answer>`.

`RamTeacher` needs no model: it describes the screen from the game's RAM (the
spec's `Scene`, in the vocabulary of `vlm_rl.perception`) and answers with the
game's scripted player.
`OpenAITeacher` asks any OpenAI-compatible chat endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import gb_gym
from gb_gym.spec import Scene

from ..parsing import parse_response
from ..perception import perception_span, perception_text, scene_facts
from ..prompts import prompt_text
from ..teacher_text import answer_text, reasoning_text

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Annotation:
    perception: str
    reasoning: str
    buttons: tuple[str, ...]

    @property
    def text(self) -> str:
        answer = answer_text(self.buttons)
        return (
            f"{perception_span(self.perception)}<reasoning>{self.reasoning}</reasoning><answer>{answer}</answer>"
        )


class RamTeacher:
    """Annotates from RAM: perception from the `Scene`, the answer from the game's scripted player,
    the reasoning tying the two together."""

    def annotate(self, scene: Scene, buttons: tuple[str, ...], reason: str = "") -> Annotation:
        facts = scene_facts(scene)
        return Annotation(perception_text(facts), reasoning_text(facts, tuple(buttons)), tuple(buttons))


class ReplyCache:
    """Teacher replies by frame, in a JSON-lines file appended and flushed after every reply, so a restarted
    annotation pays only for the frames it lacks. Thread-safe."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._replies: dict[str, str] = {}
        if self.path.is_file():
            raw = self.path.read_bytes()
            for line in raw.decode(errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    self._replies[row["key"]] = row["text"]
                except (ValueError, KeyError, TypeError):
                    pass  # the last line of a killed run may be cut short
            if raw and not raw.endswith(b"\n"):
                with self.path.open("ab") as f:
                    f.write(b"\n")  # so the next reply does not extend the cut line
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._replies)

    def get(self, key: str) -> str | None:
        return self._replies.get(key)

    def put(self, key: str, text: str) -> None:
        with self._lock:
            with self.path.open("a") as f:
                f.write(json.dumps({"key": key, "text": text}) + "\n")
                f.flush()
            self._replies[key] = text


def frame_key(frame: np.ndarray, model: str, prompt: str) -> str:
    """SHA-256 of the frame (shape and bytes), the model name and the prompt."""
    h = hashlib.sha256()
    frame = np.ascontiguousarray(frame)
    for part in (model.encode(), prompt.encode(), str(frame.shape).encode(), str(frame.dtype).encode()):
        h.update(part + b"\0")
    h.update(frame.tobytes())
    return h.hexdigest()


class _Retry(Exception):
    """A failure worth another try; `wait` is the server's Retry-After, if it sent one."""

    def __init__(self, what: str, wait: float | None = None, unreachable: bool = False):
        super().__init__(what)
        self.wait, self.unreachable = wait, unreachable


@dataclass
class OpenAITeacher:
    """Any OpenAI-compatible chat completions endpoint (vLLM, llama.cpp, a hosted API).

    The key is read from the environment variable named by `api_key_env` at call time,
    and is never logged, stored or written into the dataset. HTTP 429 and 5xx, timeouts,
    dropped connections and malformed replies are retried `retries` times, waiting
    `backoff` seconds doubled after each try (or the 429's Retry-After, up to
    `max_retry_after`); other HTTP errors fail at once. With `cache`, replies are kept
    by frame in that JSON-lines file and never asked for twice.
    """

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.2
    max_tokens: int = 512
    timeout: float = 60.0
    upscale: int = 4
    retries: int = 5
    backoff: float = 2.0
    max_retry_after: float = 120.0
    cache: str | Path | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    requests: int = field(default=0, init=False)  # HTTP requests sent, retries included
    cache_hits: int = field(default=0, init=False)

    def __post_init__(self):
        self._cache = ReplyCache(self.cache) if self.cache is not None else None
        self._count = threading.Lock()

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def annotate_frame(self, frame: np.ndarray, game: str) -> tuple[str, object]:
        """The teacher's raw reply and its parse, for one frame (from the cache when it holds the frame)."""
        prompt = prompt_text(game)
        key = frame_key(frame, self.model, prompt)
        text = self._cache.get(key) if self._cache is not None else None
        if text is not None:
            with self._count:
                self.cache_hits += 1
        else:
            text = self._ask(self._body(frame, prompt))
            if self._cache is not None:
                self._cache.put(key, text)
        return text, parse_response(text, gb_gym.get_spec(game).max_buttons)

    def _body(self, frame: np.ndarray, prompt: str) -> bytes:
        from PIL import Image

        img = Image.fromarray(frame)
        img = img.resize((img.width * self.upscale, img.height * self.upscale), Image.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        content = [{"type": "text", "text": prompt}, {"type": "image_url", "image_url": {"url": url}}]
        return json.dumps({
            "model": self.model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": content}],
        }).encode()

    def _ask(self, body: bytes) -> str:
        last = _Retry("")
        for attempt in range(self.retries + 1):
            if attempt:
                wait = self.backoff * 2 ** (attempt - 1) if last.wait is None else last.wait
                log.warning("teacher endpoint %s: %s; retry %d of %d in %.1f s",
                            self.endpoint, last, attempt, self.retries, wait)
                self.sleep(wait)
            try:
                return self._post(body)
            except _Retry as e:
                last = e
        what = "cannot reach the teacher endpoint" if last.unreachable else "teacher endpoint"
        cached = "; replies so far are cached, so a restart with resume=true asks only for the rest" if self.cache else ""
        raise RuntimeError(
            f"{what} {self.endpoint} failed {self.retries + 1} tries; the last: {last}. Check that the server is up "
            f"and serves the model name {self.model!r}, or raise annotate.openai.retries / backoff / timeout{cached}"
        )

    def _post(self, body: bytes) -> str:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        with self._count:
            self.requests += 1
        try:
            with urllib.request.urlopen(urllib.request.Request(self.endpoint, body, headers), timeout=self.timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            if e.code == 429 or e.code >= 500:
                raise _Retry(f"HTTP {e.code}", self._retry_after(e) if e.code == 429 else None) from None
            try:
                said = e.read(300).decode(errors="replace")
            except (OSError, http.client.HTTPException):
                said = ""
            if key:
                said = said.replace(key, "***")  # servers may echo the header back
            raise RuntimeError(
                f"teacher endpoint {self.endpoint} answered HTTP {e.code} ({said.strip() or e.reason}), not retried; "
                f"check the URL, the model name {self.model!r} and that ${self.api_key_env} holds a valid key"
            ) from None
        except (OSError, http.client.HTTPException) as e:  # URLError, timeouts and resets are OSErrors
            reason = getattr(e, "reason", e)
            if isinstance(reason, TimeoutError) or isinstance(e, TimeoutError):
                raise _Retry(f"no reply within {self.timeout} s (timeout)") from None
            raise _Retry(f"connection failed ({type(e).__name__}: {reason})", unreachable=True) from None
        try:
            text = json.loads(raw)["choices"][0]["message"]["content"]
        except ValueError:
            raise _Retry(f"a reply that is not JSON: {raw[:100]!r}") from None
        except (KeyError, IndexError, TypeError):
            text = None
        if not isinstance(text, str):
            raise _Retry(f"a reply without choices[0].message.content: {raw[:100]!r}")
        return text

    def _retry_after(self, e: urllib.error.HTTPError) -> float | None:
        try:
            return min(max(float(e.headers.get("Retry-After", "")), 0.0), self.max_retry_after)
        except ValueError:  # absent, or an HTTP date: fall back to the backoff
            return None
