"""The RAM teacher's words: its reasoning line and its answer list (the perception facts' words are in
`vlm_rl.perception`), and every phrase of them, which the tiny model's tokenizer makes one token each.

Kept apart from `stages/teachers.py` because the tiny model's tokenizer (`models/tiny.py`) needs the phrases,
and models never import stages.
"""

from __future__ import annotations

from .perception import HAZARDS, STANCES, perception_phrases

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


def answer_text(buttons: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{b}'" for b in (buttons or ("noop",))) + "]"


def teacher_phrases() -> list[str]:
    """The RAM teacher's phrases (perception facts, reasoning subjects and intents, answers):
    a tokenizer that makes each one token turns an annotation into ~12 tokens instead of ~30."""
    subjects = ["clear", STANCES["air"], "enemy near", *(h for h in HAZARDS if h.endswith("near"))]
    return [*perception_phrases(), *(f"{s}:" for s in subjects), *(f" {i}" for i in INTENTS.values()),
            *(answer_text(b) for b in INTENTS)]


def reasoning_text(facts: dict[str, str], buttons: tuple[str, ...]) -> str:
    """"<what matters most>: <what to do>", e.g. "pit near: jump right"."""
    if facts["stance"] == "air":
        subject = STANCES["air"]
    elif facts["hazard"].endswith("near"):
        subject = facts["hazard"]
    elif facts["enemy"] == "enemy near":
        subject = "enemy near"
    else:
        subject = "clear"
    return f"{subject}: {INTENTS.get(tuple(buttons), '+'.join(buttons))}"
