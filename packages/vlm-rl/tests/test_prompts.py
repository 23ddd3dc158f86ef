from importlib.metadata import EntryPoint

import pytest

from gb_gym.games.hopland import Hopland
from vlm_rl.prompts import (
    BUTTONS,
    GamePrompt,
    build_messages,
    games,
    generic_prompt,
    get_prompt,
    prompt_text,
    register_prompt,
)


@pytest.mark.parametrize("game", ["hopland", "kirby", "mario"])
def test_prompt_lists_every_button_and_the_output_format(game):
    text = prompt_text(game)
    for b in BUTTONS:
        assert f"- '{b}':" in text
    assert "<perception></perception>" in text and "<reasoning></reasoning>" in text
    assert "<answer>['button1', 'button2', ...]</answer>" in text
    assert text.endswith("The maximum number of buttons you can press simultaneously in one turn is 2.")


def test_mario_prompt_is_the_papers():
    text = prompt_text("mario")
    assert text.startswith("You are playing Super Mario Land.\n\nThe goal is to progress through levels")
    assert "- 'b': Run/Shoot (hold to run faster or shoot fireballs if available)" in text


def test_messages_are_one_user_turn_text_first():
    (msg,) = build_messages("hopland")
    assert msg["role"] == "user" and [c["type"] for c in msg["content"]] == ["text", "image"]
    (msg,) = build_messages("hopland", n_history_frames=2)
    assert [c["type"] for c in msg["content"]] == ["text", "image", "image", "image"]
    assert "3 game screens, oldest first" in msg["content"][0]["text"]


def test_registry():
    assert {"hopland", "kirby", "mario"} <= set(games())
    with pytest.raises(ValueError, match="unknown game 'zelda'"):
        prompt_text("zelda")
    with pytest.raises(ValueError, match="does not describe buttons"):
        register_prompt("broken", GamePrompt(title="X", goal="Y", buttons={"a": "jump"}))


class _ThreeButtonHopland(Hopland):
    name, env_id, display_name, max_buttons = "hopland3-prompt", "GB/Hopland3Prompt-v0", "Hopland Three", 3


THREE = _ThreeButtonHopland()
PROMPT = GamePrompt(title="Hopland, three buttons at a time", goal="Run right.", buttons={b: b.upper() for b in BUTTONS})


def test_a_game_without_a_prompt_gets_a_generic_one_stating_its_cap():
    text = prompt_text(THREE)
    assert text.startswith("You are playing Hopland Three.\n\nThe goal is to move to the right as far as possible")
    assert "- 'a': The A button" in text and "- 'noop': Do nothing" in text
    assert text.endswith("The maximum number of buttons you can press simultaneously in one turn is 3.")
    assert get_prompt(THREE) == generic_prompt(THREE)


def test_an_installed_package_gives_its_prompt_through_an_entry_point(monkeypatch):
    import vlm_rl.prompts as prompts

    ep = EntryPoint(name=THREE.name, value=f"{__name__}:PROMPT", group=prompts.ENTRY_POINT_GROUP)
    monkeypatch.setattr(prompts, "entry_points", lambda group, name: [e for e in [ep] if (e.group, e.name) == (group, name)])
    assert get_prompt(THREE) is PROMPT and prompt_text(THREE).startswith("You are playing Hopland, three buttons")
    assert THREE.name not in games()  # not added to the registry: the tiny model's tokenizer corpus stays the same
    bad = EntryPoint(name=THREE.name, value=f"{__name__}:THREE", group=prompts.ENTRY_POINT_GROUP)
    monkeypatch.setattr(prompts, "entry_points", lambda group, name: [bad])
    with pytest.raises(ValueError, match="is <.*_ThreeButtonHopland.*>, not a vlm_rl.prompts.GamePrompt"):
        get_prompt(THREE)


def test_short_prompt_names_the_game_the_tags_and_the_cap():
    short = prompt_text("hopland", style="short")
    assert short.startswith("Hopland") and "at most 2 buttons" in short
    assert all(tag in short for tag in ("<perception>", "<reasoning>", "<answer>"))
    assert len(short) < len(prompt_text("hopland")) / 10
    assert "2 screens (oldest first)" in prompt_text("hopland", 1, style="short")
    assert build_messages("hopland", style="short")[0]["content"][0]["text"] == short
    with pytest.raises(ValueError, match="Unknown prompt style 'long'"):
        prompt_text("hopland", style="long")
