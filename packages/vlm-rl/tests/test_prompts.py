import pytest

from vlm_rl.prompts import BUTTONS, GamePrompt, build_messages, games, prompt_text, register_prompt


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
    with pytest.raises(KeyError, match="No prompt for game 'zelda'"):
        prompt_text("zelda")
    with pytest.raises(ValueError, match="does not describe buttons"):
        register_prompt("broken", GamePrompt(title="X", goal="Y", buttons={"a": "jump"}))
