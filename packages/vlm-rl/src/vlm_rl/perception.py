"""Perception facts: what a `<perception>` text should state about a frame, read from the game's RAM.

The RAM teacher writes perception in a small fixed vocabulary (stance, nearest hazard, nearest
enemy), so a policy's perception can be read back and checked against the RAM (`perception_fidelity`).
"""

from __future__ import annotations

import re

from gb_gym.spec import Scene

TILE = 8
VIEW_TILES = 12  # how far ahead the perception text looks
NEAR_TILES = 4  # "near": within a jump's reach from here
BIG = 4  # a pit this wide or a wall this high needs a running jump

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


STANCES = {"ground": "on ground", "air": "in air"}
HAZARDS = ("no hazard", *(f"{size}{kind} {where}" for kind, big in (("pit", "wide "), ("wall", "high "))
                          for size in ("", big) for where in ("near", "ahead")))
ENEMIES = ("no enemy", "enemy near", "enemy ahead")


def perception_text(facts: dict[str, str]) -> str:
    return f"{STANCES[facts['stance']]}. {facts['hazard']}. {facts['enemy']}."


def perception_phrases() -> list[str]:
    """Each fact as `perception_text` writes it: a tokenizer can make each one token."""
    return [f"{s}." for s in STANCES.values()] + [f" {v}." for v in (*HAZARDS, *ENEMIES)]


def perception_span(text: str) -> str:
    """A perception text in its tag, as a response opens with it."""
    return f"<perception>{text}</perception>"


def teacher_perception(scene: Scene) -> str:
    """What the RAM teacher's annotation of this frame opens with (`Annotation.text`'s perception span)."""
    return perception_span(perception_text(scene_facts(scene)))


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
