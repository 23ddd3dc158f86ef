"""Write the skeleton of a `GameSpec` with the addresses the finder picked filled in."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .find import Findings
from .recording import RecordedMemory, Recording

TEMPLATE = '''"""{display}: a GameSpec skeleton written by `gb-gym ram find` from {source}.

Every address here is a candidate found from play alone: check each one (docs/ram-explorer.md,
`gb-gym ram check`) before training on it, then write `start` and add the spec to
gb_gym/games/__init__.py (docs/adding-a-game.md).

Evidence:
{evidence}
"""

from __future__ import annotations

from typing import Any

from gb_gym.spec import GameBoyLike, GameSpec, GameState, RomInfo

{constants}


def x_progress(mem: Any) -> int:
    return {x_expr}


class {cls}(GameSpec):
    name = "{name}"
    env_id = "GB/{cls}-v0"
    display_name = "{display}"
    rom = RomInfo(title="{title}", filename="{name}.gb")
    levels = {levels!r}
    default_level = {default_level!r}
    max_episode_steps = 400

    def start(self, session: Any, level: str, seed: int) -> Any:
        # Boot the ROM, get past the title to the first playable frame of `level`, use `seed` for the
        # game's randomness (e.g. PyBoy's DIV timer), and return the PyBoy; see docs/adding-a-game.md.
        raise NotImplementedError("{cls}.start: bring the emulator to the first playable frame of a level")

    def read(self, gb: GameBoyLike) -> GameState:
        mem = gb.memory
        return GameState(
            x_progress=x_progress(mem),
            level={level_expr},
            lives={lives_expr},
            dying={dying_expr},
            game_over=False,  # not looked for: find the game-over screen's byte and compare it here
            level_complete={complete_expr},
        )
'''


def class_name(title: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", title) or ["Game"]
    name = "".join(w.capitalize() for w in words)
    return name if name[0].isalpha() else "Game" + name


def write_skeleton(path: str | Path, rec: Recording, found: Findings, name: str | None = None,
                   source: str = "a recording") -> Path:
    if not found.x_progress:
        raise ValueError("no x-progress candidate was found, so there is no skeleton to write: record more "
                         "turns that hold RIGHT (and some that hold LEFT) and run `gb-gym ram find` again")
    title = str(rec.meta.get("title") or "GAME")
    cls = class_name(name or title)
    x = found.x_progress[0]
    consts, evidence = [], [f"  x-progress {x.value.label}: {x.evidence}"]
    level_expr, levels = '"1"', ("1",)
    if found.level:
        addr = found.level[0].value.addrs[0]
        consts.append(f"LEVEL = 0x{addr:04X}  # rises by 1 after a level completion")
        evidence.append(f"  level 0x{addr:04X}: {found.level[0].evidence}")
        level_expr = "str(mem[LEVEL])"
        levels = tuple(str(v) for v in np.unique(RecordedMemory(rec)[addr]))
    lives_expr = "0"
    if found.lives:
        addr = found.lives[0].value.addrs[0]
        consts.append(f"LIVES = 0x{addr:04X}  # falls by 1 at a death (the game may count the life in play)")
        evidence.append(f"  lives 0x{addr:04X}: {found.lives[0].evidence}")
        lives_expr = "mem[LIVES]"
    else:
        evidence.append("  lives: not looked for (mark deaths with --deaths)")
    flags = {}
    for key, cands, what in (("DYING", found.dying, "death"), ("LEVEL_COMPLETE", found.level_complete, "level completion")):
        if cands:
            c = cands[0]
            consts.append(f"{key}, {key}_VALUE = 0x{c.value.addrs[0]:04X}, {c.flag}  # the value at a {what}")
            evidence.append(f"  {key.lower().replace('_', ' ')} 0x{c.value.addrs[0]:04X}: {c.evidence}")
            flags[key] = f"mem[{key}] == {key}_VALUE"
        else:
            evidence.append(f"  {key.lower().replace('_', ' ')}: not looked for (mark each {what} with --{'deaths' if key == 'DYING' else 'levels'})")
    text = TEMPLATE.format(
        display=cls, source=source, evidence="\n".join(evidence), constants="\n".join(consts) or "# no address besides x-progress",
        x_expr=x.value.expr, cls=cls, name=cls.lower(), title=title.replace('"', ""), levels=levels,
        default_level=levels[0], level_expr=level_expr, lives_expr=lives_expr,
        dying_expr=flags.get("DYING", "False"), complete_expr=flags.get("LEVEL_COMPLETE", "False"),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
