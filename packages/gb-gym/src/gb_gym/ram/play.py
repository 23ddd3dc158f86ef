"""Play a game and record it: from a button script, the game's scripted player, or the keyboard.

A button script is a list of `BUTTONS*TURNS` items separated by commas or new lines, `#` starting
a comment: `right*20, a+right*3, noop*10, bot*150`. BUTTONS follows the env's text grammar
(`gb_gym.actions.parse_buttons`: up to two of a, b, up, down, left, right, or noop), plus `start`
and `select` for menus, and `bot` hands those turns to the game's scripted player. `*TURNS`
defaults to 1. Each turn follows the env's turn protocol (`gb_gym.actions.TURN`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..actions import TURN, parse_buttons
from ..testing import raw_turn  # the env's turn protocol on a bare PyBoy
from .recording import DEFAULT_REGIONS, Recording

MENU_BUTTONS = ("start", "select")
BOT = "bot"
_ITEM = re.compile(r"^([a-z+ ]+?)\s*(?:\*\s*(\d+))?$")


@dataclass(frozen=True)
class ScriptItem:
    buttons: tuple[str, ...] | None  # None: the game's scripted player decides
    turns: int


def parse_script(text: str) -> list[ScriptItem]:
    items = []
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    for raw in ",".join(lines).split(","):
        token = raw.strip().lower()
        if not token:
            continue
        m = _ITEM.match(token)
        if not m:
            raise ValueError(f"invalid button script item {raw.strip()!r}: expected BUTTONS*TURNS, e.g. a+right*3")
        names = [n.strip() for n in m.group(1).split("+")]
        turns = int(m.group(2) or 1)
        if turns < 1:
            raise ValueError(f"invalid button script item {raw.strip()!r}: TURNS must be at least 1")
        if names == [BOT]:
            items.append(ScriptItem(None, turns))
            continue
        menu = tuple(n for n in names if n in MENU_BUTTONS)
        pad = [n for n in names if n not in MENU_BUTTONS]
        try:
            buttons = parse_buttons(pad) + menu
        except ValueError as e:
            raise ValueError(f"invalid button script item {raw.strip()!r}: {e}; or start, select, bot") from None
        items.append(ScriptItem(buttons, turns))
    if not items:
        raise ValueError("the button script is empty: give items such as `right*20, a+right*3`")
    return items


class Recorder:
    """Collects one row per turn from a PyBoy."""

    def __init__(self, pb: Any, regions: tuple[tuple[int, int], ...] = DEFAULT_REGIONS):
        self.pb, self.regions = pb, regions
        self.rows: dict[str, list] = {k: [] for k in ("ram", "frames", "scroll", "buttons", "turn_frames")}

    def snap(self, buttons: tuple[str, ...] | set[str], frames: int) -> None:
        mem = self.pb.memory
        self.rows["ram"].append(np.concatenate([np.asarray(mem[a:b], np.uint8) for a, b in self.regions]))
        self.rows["frames"].append(np.array(self.pb.screen.ndarray)[:, :, :3])
        self.rows["scroll"].append(np.asarray(self.pb.screen.tilemap_position_list, np.int16))
        self.rows["buttons"].append("+".join(sorted(buttons)))
        self.rows["turn_frames"].append(frames)

    def recording(self, meta: dict[str, Any]) -> Recording:
        r = self.rows
        return Recording(
            ram=np.stack(r["ram"]), regions=np.array(self.regions, np.int64), frames=np.stack(r["frames"]),
            scroll=np.stack(r["scroll"]), buttons=np.array(r["buttons"]), turn_frames=np.array(r["turn_frames"]),
            meta=meta,
        )


def play_turn(pb: Any, buttons: tuple[str, ...]) -> int:
    """One turn of the env's protocol; returns its frames."""
    raw_turn(pb, buttons)
    return TURN.frames_for(buttons)


def script_turns(items: list[ScriptItem], bot: Callable[[], tuple[str, ...]] | None) -> Iterator[tuple[str, ...]]:
    for item in items:
        if item.buttons is None and bot is None:
            raise ValueError("the button script uses `bot`, but this game has no scripted player")
        for _ in range(item.turns):
            yield item.buttons if item.buttons is not None else tuple(bot())


def record_script(pb: Any, items: list[ScriptItem], bot: Callable[[], tuple[str, ...]] | None = None) -> Recorder:
    rec = Recorder(pb)
    rec.snap((), 0)
    for buttons in script_turns(items, bot):
        rec.snap(buttons, play_turn(pb, buttons))
    return rec


# PyBoy's window keys (pyboy/plugins/window_sdl2.py): arrows, A = a, B = s, START = Return, SELECT = Backspace
_SDL_KEYS = {"UP": "up", "DOWN": "down", "LEFT": "left", "RIGHT": "right", "A": "a", "S": "b",
             "RETURN": "start", "BACKSPACE": "select"}


def record_keyboard(pb: Any, max_turns: int) -> Recorder:
    """Play in PyBoy's SDL2 window; one row every `TURN.frames` frames with the keys held during them.
    Ends when the window is closed or after `max_turns`. Needs a display."""
    import sdl2

    codes = {getattr(sdl2, f"SDL_SCANCODE_{k}"): name for k, name in _SDL_KEYS.items()}
    rec = Recorder(pb)
    rec.snap((), 0)
    for _ in range(max_turns):
        held: set[str] = set()
        for _ in range(TURN.frames):
            if not pb.tick(1, True):
                return rec
            state = sdl2.SDL_GetKeyboardState(None)
            held |= {name for code, name in codes.items() if state[code]}
        rec.snap(held, TURN.frames)
    return rec


def record(
    game: str | None = None, rom: str | None = None, level: str | None = None, seed: int = 0,
    script: str | None = None, interactive: bool = False, max_turns: int = 2000,
) -> Recording:
    """Play `game` (from its first playable frame, via its spec) or a bare `rom` (from power-on) and
    record it: from `script` (button script text) or, with `interactive`, from the keyboard."""
    if (script is None) == (not interactive):
        raise ValueError("give either a button script (--script / --script-file) or --interactive")
    items = parse_script(script) if script is not None else []
    window = "SDL2" if interactive else "null"
    if game is not None:
        from ..env import GameBoyEnv

        env = GameBoyEnv(game=game, level=level, actions="buttons", rom_path=rom,
                         render_mode="human" if interactive else None)
        env.reset(seed=seed)
        pb, spec, close = env.pyboy, env.spec_game, env.close
        bot = (lambda: spec.scripted_buttons(pb)) if spec.has_scripted_player else None
        level = env.level
    else:
        if rom is None:
            raise ValueError("give --game NAME (a supported game) or --rom FILE (any ROM, played from power-on)")
        if not Path(rom).is_file():
            raise FileNotFoundError(f"ROM file {rom} does not exist")
        from pyboy import PyBoy

        from ..roms import check_rom_bytes

        check_rom_bytes(Path(rom).read_bytes(), f"ROM file {rom}")

        pb = PyBoy(str(rom), window=window, sound_emulated=False, log_level="ERROR")
        if not interactive:
            pb.set_emulation_speed(0)
        bot, close = None, lambda: pb.stop(save=False)
    title = pb.cartridge_title
    try:
        recorder = record_keyboard(pb, max_turns) if interactive else record_script(pb, items, bot)
    finally:
        close()
    meta = {"game": game, "rom": rom, "title": title, "level": level, "seed": seed,
            "played": "interactive" if interactive else script, "turn": dataclasses.asdict(TURN)}
    return recorder.recording(meta)


def turn_gif(rec: Recording, path: str | Path, scale: int = 2, fps: int = 12) -> Path:
    """The recording as a GIF with the turn number and buttons on every frame, to find event turns."""
    from PIL import Image, ImageDraw

    images = []
    for t, frame in enumerate(rec.frames):
        im = Image.fromarray(frame).resize((frame.shape[1] * scale, frame.shape[0] * scale), Image.NEAREST)
        ImageDraw.Draw(im).text((2, 2), f"turn {t} {rec.buttons[t]}", fill=(255, 0, 0))
        images.append(im)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path
