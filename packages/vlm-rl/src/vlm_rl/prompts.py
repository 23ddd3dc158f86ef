"""Per-game instruction prompts in the Odysseus style, and the chat messages built from them.

Every turn is one user message: the prompt text first, then the image(s). No system role
(paper, Section B). A game's prompt is, first found: one passed to `register_prompt`, one an
installed package declares in the `vlm_rl.prompts` entry point group (`name = "package.module:PROMPT"`,
a `GamePrompt`), or a generic one made from its `GameSpec`. The most buttons per answer the
prompt states is the game's `GameSpec.max_buttons`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

import gb_gym
from gb_gym.actions import ANSWER_NAMES as BUTTONS  # the names an answer may use: gb_gym's button grammar

__all__ = ["BUTTONS", "ENTRY_POINT_GROUP", "PROMPT_STYLES", "GamePrompt", "build_messages", "games", "get_prompt",
           "prompt_text",
           "register_prompt"]

ENTRY_POINT_GROUP = "vlm_rl.prompts"


@dataclass(frozen=True)
class GamePrompt:
    title: str
    goal: str
    # One line per button in BUTTONS order; what the button does in this game.
    buttons: dict[str, str]
    rules: tuple[str, ...] = ()


_PROMPTS: dict[str, GamePrompt] = {}


def _checked(game: str, prompt: object) -> GamePrompt:
    if not isinstance(prompt, GamePrompt):
        raise ValueError(f"Prompt for game {game!r} is {prompt!r}, not a vlm_rl.prompts.GamePrompt.")
    missing = [b for b in BUTTONS if b not in prompt.buttons]
    if missing:
        raise ValueError(f"Prompt for game {game!r} does not describe buttons {missing}. Expecting all of {BUTTONS}.")
    return prompt


def register_prompt(game: str, prompt: GamePrompt) -> None:
    _PROMPTS[game] = _checked(game, prompt)


def games() -> tuple[str, ...]:
    """The games with a registered prompt (the built-in ones unless `register_prompt` added more)."""
    return tuple(_PROMPTS)


def generic_prompt(spec: gb_gym.GameSpec) -> GamePrompt:
    """The prompt of a game that has none of its own: its name, the reward's goal, the Game Boy's buttons."""
    return GamePrompt(
        title=spec.display_name,
        goal="The goal is to move to the right as far as possible and reach the end of the level.",
        buttons={
            "a": "The A button", "b": "The B button", "up": "Up on the direction pad",
            "down": "Down on the direction pad", "left": "Move left", "right": "Move right",
            "noop": "Do nothing (used to wait for a brief period without performing any action)",
        },
    )


def get_prompt(game: str | gb_gym.GameSpec) -> GamePrompt:
    """The prompt of `game` (a name gb_gym knows, or package.module:SpecClass): registered, installed, or generic."""
    spec = gb_gym.get_spec(game)
    if spec.name in _PROMPTS:
        return _PROMPTS[spec.name]
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=spec.name):
        return _checked(spec.name, ep.load())
    return generic_prompt(spec)


# "paper": the paper's instructions (Section B). "short": one line naming the game, the frames and the answer's
# parts, for a model trained from scratch (the tiny one): it cannot read the paper's ~370 tokens, which cost
# most of its compute and bury the image tokens among constant text (docs/training.md, "Why perception was low").
PROMPT_STYLES = ("paper", "short")


def prompt_text(game: str | gb_gym.GameSpec, n_history_frames: int = 0, style: str = "paper") -> str:
    """The instruction text for `game`: the paper's (Section B, generalised over games) or the short one."""
    if n_history_frames < 0:
        raise ValueError(f"n_history_frames must be >= 0, got {n_history_frames}")
    if style not in PROMPT_STYLES:
        raise ValueError(f"Unknown prompt style {style!r}. Expecting one of {PROMPT_STYLES}.")
    p = get_prompt(game)
    max_buttons = gb_gym.get_spec(game).max_buttons
    if style == "short":
        screens = f"{n_history_frames + 1} screens (oldest first)" if n_history_frames else "the screen"
        return (f"{p.title}. Describe {screens} in <perception>, reason in <reasoning>, then press at most "
                f"{max_buttons} buttons in <answer>.")
    quoted = ", ".join(f"'{b}'" for b in BUTTONS)
    parts = [
        f"You are playing {p.title}.",
        p.goal,
        "You can control the game by pressing buttons on the Game Boy.",
    ]
    if p.rules:
        parts.append("Rules:\n" + "\n".join(f"- {r}" for r in p.rules))
    parts.append("Available buttons:\n" + "\n".join(f"- '{b}': {p.buttons[b]}" for b in BUTTONS))
    if n_history_frames:
        parts.append(
            f"You are shown {n_history_frames + 1} game screens, oldest first; "
            "the last one is the current screen. Decide for the current screen."
        )
    parts += [
        "Please analyze the game screen and decide which buttons to press to progress.",
        "Return your answer as follows:\n"
        "1. Button sequence: a list of buttons to press simultaneously\n"
        f"2. Each button should be one of: {quoted}",
        "First describe what you see on the screen in <perception></perception>. "
        "Then, in <reasoning></reasoning>, break down your reasoning step by step, "
        "justifying each action you consider. "
        "Output your final action in <answer>['button1', 'button2', ...]</answer>.",
        f"The maximum number of buttons you can press simultaneously in one turn is {max_buttons}.",
    ]
    return "\n\n".join(parts)


def build_messages(game: str | gb_gym.GameSpec, n_history_frames: int = 0, style: str = "paper") -> list[dict]:
    """One user turn for `processor.apply_chat_template`: text first, then n_history_frames + 1 images."""
    content: list[dict] = [{"type": "text", "text": prompt_text(game, n_history_frames, style)}]
    content += [{"type": "image"} for _ in range(n_history_frames + 1)]
    return [{"role": "user", "content": content}]


# The paper's prompt, Section B, with straight quotes.
register_prompt(
    "mario",
    GamePrompt(
        title="Super Mario Land",
        goal="The goal is to progress through levels, collect coins and power-ups when safe, "
        "and ultimately finish the game by rescuing Princess Daisy.",
        buttons={
            "a": "Jump (used to make Mario jump)",
            "b": "Run/Shoot (hold to run faster or shoot fireballs if available)",
            "up": "Climb ladders or vines (if present)",
            "down": "Crouch or enter pipes (when standing on a pipe)",
            "left": "Move Mario left",
            "right": "Move Mario right",
            "noop": "Do nothing (used to wait for a brief period without performing any action)",
        },
    ),
)

register_prompt(
    "kirby",
    GamePrompt(
        title="Kirby's Dream Land",
        goal="The goal is to travel through each stage, avoid or defeat enemies, reach the exit door "
        "and ultimately defeat King Dedede.",
        rules=(
            "Touching an enemy or a hazard costs Kirby health; Kirby loses a life when health runs out.",
            "Falling into a bottomless pit loses a life.",
            "Kirby can inhale an enemy and spit it out as a star that defeats other enemies.",
            "Kirby can float in the air by puffing up, and fly over gaps and obstacles.",
        ),
        buttons={
            "a": "Jump; press again in the air to puff up and float",
            "b": "Inhale enemies; when full, spit them out as a star; while floating, release the air puff",
            "up": "Float upwards or enter a door",
            "down": "Swallow an inhaled enemy, duck, or drop down while floating",
            "left": "Move Kirby left",
            "right": "Move Kirby right",
            "noop": "Do nothing (used to wait for a brief period without performing any action)",
        },
    ),
)

register_prompt(
    "hopland",
    GamePrompt(
        title="Hopland, a side-scrolling platformer",
        goal="The goal is to run to the right as far as possible and reach the flag at the end of the level.",
        rules=(
            "You are the bunny.",
            "Walking enemies kill you if you touch them from the side; jump on top of them to stomp them.",
            "Falling into a pit kills you.",
            "Walls and steps block your way; jump to get over them.",
            "Holding 'b' with 'right' makes you run; a running jump goes farther and higher.",
        ),
        buttons={
            "a": "Jump (used to jump over enemies, pits, walls and steps)",
            "b": "Run (hold together with 'right' to run faster)",
            "up": "Not used in this game",
            "down": "Not used in this game",
            "left": "Move left",
            "right": "Move right",
            "noop": "Do nothing (used to wait for a brief period without performing any action)",
        },
    ),
)
