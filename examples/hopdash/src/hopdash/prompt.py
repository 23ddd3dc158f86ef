"""The VLM's instructions for Hop Dash; vlm-rl loads this through the `vlm_rl.prompts` entry point."""

from vlm_rl.prompts import GamePrompt

PROMPT = GamePrompt(
    title="Hop Dash, a side-scrolling platformer",
    goal="The goal is to dash to the right as far as possible, stomping enemies on the way: each stomp counts.",
    rules=(
        "You are the bunny.",
        "Walking enemies kill you if you touch them from the side; jump on top of them to stomp them.",
        "Falling into a pit kills you.",
        "Press 'a', 'b' and 'right' together for a running jump, the longest jump there is.",
    ),
    buttons={
        "a": "Jump",
        "b": "Run (together with 'right')",
        "up": "Not used in this game",
        "down": "Not used in this game",
        "left": "Move left",
        "right": "Move right",
        "noop": "Do nothing (used to wait for a brief period without performing any action)",
    },
)
