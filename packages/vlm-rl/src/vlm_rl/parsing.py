"""Parse a VLM response into buttons; never raises, whatever the text.

Strict: the whole response is `<perception>…</perception><reasoning>…</reasoning><answer>[…]</answer>`
with only whitespace between and around, each tag once.
Lenient: the last `<answer>…</answer>` (or a trailing unclosed `<answer>[…]`) holds a valid list;
with no answer tag at all, the last bracketed list of quoted names in the text is used.
A list is valid when it has at most `max_buttons` entries (the game's `GameSpec.max_buttons`, 2 by default),
each a quoted name from BUTTONS (case-insensitive);
`noop` means no button, `[]` too. Buttons come back deduplicated in BUTTONS order.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from gb_gym.actions import DEFAULT_MAX_BUTTONS
from vlm_rl.prompts import BUTTONS

_TAGS = ("perception", "reasoning", "answer")
_QUOTES = {"'": "'", '"': '"', "\u2018": "\u2019", "\u2019": "\u2019", "\u201c": "\u201d"}
# Bracketed lists without nested brackets: linear-time, no backtracking blow-up.
_LIST = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class ParsedResponse:
    buttons: tuple[str, ...] | None  # None: invalid answer; () : noop
    strict: bool
    lenient: bool
    perception: str | None
    reasoning: str | None
    error: str | None

    @property
    def action_name(self) -> str:
        """'a+right', 'noop' or 'invalid': a key for action statistics."""
        if self.buttons is None:
            return "invalid"
        return "+".join(self.buttons) or "noop"


def _parse_list(s: str, max_buttons: int) -> tuple[tuple[str, ...] | None, str | None]:
    """'['a', 'right']' -> (('a', 'right'), None); on failure (None, error)."""
    s = s.strip()
    if not (s.startswith("[") and s.endswith("]")):
        return None, f"answer is not a bracketed list: {s[:60]!r}"
    items = [x.strip() for x in s[1:-1].split(",")]
    if items and items[-1] == "":  # [] and a trailing comma
        items.pop()
    names = []
    for item in items:
        if len(item) < 2 or item[0] not in _QUOTES or item[-1] != _QUOTES[item[0]]:
            return None, f"list entry is not a quoted button name: {item[:30]!r}"
        names.append(item[1:-1].strip().lower())
    unknown = [n for n in names if n not in BUTTONS]
    if unknown:
        return None, f"unknown button name(s) {unknown[:5]}; allowed: {list(BUTTONS)}"
    if len(names) > max_buttons:
        return None, f"{len(names)} buttons given, at most {max_buttons} allowed"
    pressed = set(names) - {"noop"}
    return tuple(b for b in BUTTONS if b in pressed), None


def _between(text: str, tag: str) -> str | None:
    start = text.find(f"<{tag}>")
    if start < 0:
        return None
    end = text.find(f"</{tag}>", start)
    return None if end < 0 else text[start + len(tag) + 2 : end].strip()


def _is_strict(text: str) -> bool:
    pos = 0
    for tag in _TAGS:
        for mark in (f"<{tag}>", f"</{tag}>"):
            if text.count(mark) != 1:
                return False
        start, end = text.find(f"<{tag}>"), text.find(f"</{tag}>")
        if start < pos or end < start or text[pos:start].strip():
            return False
        pos = end + len(tag) + 3
    return not text[pos:].strip()


def tag_texts(text: str) -> dict[str, str | None]:
    """The text inside each of the three tags (None where a tag is missing or not closed)."""
    return {tag: _between(text, tag) for tag in _TAGS}


def _find_answer(text: str) -> tuple[str | None, str | None]:
    """The candidate answer string, or (None, error)."""
    start = text.rfind("<answer>")
    if start >= 0:
        rest = text[start + len("<answer>") :]
        end = rest.find("</answer>")
        if end >= 0:
            return rest[:end], None
        match = _LIST.match(rest.lstrip())  # closing tag cut off, e.g. by max_new_tokens
        return (match.group(0), None) if match else (None, "<answer> is not closed and holds no list")
    lists = [m.group(0) for m in _LIST.finditer(text) if any(q in m.group(1) for q in _QUOTES)]
    if lists:
        return lists[-1], None
    return None, "no <answer> tag and no list of button names found"


def parse_response(text: str, max_buttons: int = DEFAULT_MAX_BUTTONS) -> ParsedResponse:
    """The buttons of a response (at most `max_buttons`: pass the game's `GameSpec.max_buttons`)."""
    if not isinstance(text, str):
        return ParsedResponse(None, False, False, None, None, f"expected str, got {type(text).__name__}")
    perception, reasoning = _between(text, "perception"), _between(text, "reasoning")
    answer, error = _find_answer(text)
    buttons = None
    if answer is not None:
        buttons, error = _parse_list(answer, max_buttons)
    valid = buttons is not None
    return ParsedResponse(buttons, valid and _is_strict(text), valid, perception, reasoning, error)


def format_stats(parsed: list[ParsedResponse]) -> dict:
    """Strict / lenient parse rates and the action distribution (fractions; 'invalid' included)."""
    n = len(parsed)
    if n == 0:
        return {"n": 0, "strict_rate": 0.0, "lenient_rate": 0.0, "action_dist": {}}
    counts = Counter(p.action_name for p in parsed)
    return {
        "n": n,
        "strict_rate": sum(p.strict for p in parsed) / n,
        "lenient_rate": sum(p.lenient for p in parsed) / n,
        "action_dist": {k: v / n for k, v in counts.most_common()},
    }
