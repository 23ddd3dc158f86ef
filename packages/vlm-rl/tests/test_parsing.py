import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlm_rl.parsing import ParsedResponse, format_stats, parse_response
from vlm_rl.prompts import BUTTONS


def strict_text(answer: str, perception: str = "A blob on the ground.", reasoning: str = "Jump the gap.") -> str:
    return f"<perception>{perception}</perception><reasoning>{reasoning}</reasoning><answer>{answer}</answer>"


@pytest.mark.parametrize(
    ("answer", "buttons"),
    [
        ("['a', 'right']", ("a", "right")),
        ("['right', 'a']", ("a", "right")),  # canonical order
        ('["b"]', ("b",)),
        ("['A', 'Right']", ("a", "right")),  # case-insensitive
        ("[ 'left' , ]", ("left",)),  # trailing comma, spaces
        ("['noop']", ()),
        ("[]", ()),
        ("['noop', 'right']", ("right",)),
        ("['a', 'a']", ("a",)),
    ],
)
def test_strict_answers(answer, buttons):
    p = parse_response(strict_text(answer))
    assert p.buttons == buttons and p.strict and p.lenient and p.error is None
    assert p.perception == "A blob on the ground." and p.reasoning == "Jump the gap."


def test_whitespace_between_tags_is_still_strict():
    text = "  <perception>x</perception>\n<reasoning> y </reasoning>\n\n<answer>['a']</answer>\n"
    p = parse_response(text)
    assert p.strict and p.buttons == ("a",) and p.reasoning == "y"


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ("['a', 'b', 'right']", "at most 2"),
        ("['noop', 'noop', 'noop']", "at most 2"),
        ("['jump']", "unknown button"),
        ("['a', 'start']", "unknown button"),
        ("a, right", "not a bracketed list"),
        ("[a, right]", "not a quoted button name"),
        ("['a\", 'b']", "not a quoted button name"),
    ],
)
def test_invalid_answers_are_rejected_with_a_reason(answer, fragment):
    p = parse_response(strict_text(answer))
    assert p.buttons is None and not p.strict and not p.lenient
    assert fragment in p.error
    assert p.action_name == "invalid"


@pytest.mark.parametrize(
    ("text", "buttons"),
    [
        ("Sure! " + strict_text("['a']"), ("a",)),  # text outside the tags
        ("<answer>['right']</answer>", ("right",)),  # no perception / reasoning
        ("<reasoning>r</reasoning><perception>p</perception><answer>['b']</answer>", ("b",)),  # wrong order
        ("<perception>p</perception><reasoning>r</reasoning><answer>['a', 'right']", ("a", "right")),  # cut off
        ("<answer>['left']</answer> then <answer>['right']</answer>", ("right",)),  # the last answer counts
        ("I will press ['a', 'right'] now.", ("a", "right")),  # no tag: last quoted list
        ("Maybe ['left'], no: ['b', 'right'].", ("b", "right")),
    ],
)
def test_lenient_only(text, buttons):
    p = parse_response(text)
    assert p.buttons == buttons and p.lenient and not p.strict


def test_an_invalid_answer_tag_does_not_fall_back_to_lists_elsewhere():
    p = parse_response(strict_text("['a', 'b', 'right']", reasoning="Maybe ['a'] is enough."))
    assert p.buttons is None and "at most 2" in p.error


def test_the_cap_is_the_games():
    p = parse_response(strict_text("['a', 'b', 'right']"), max_buttons=3)  # a game with GameSpec.max_buttons = 3
    assert p.strict and p.buttons == ("a", "b", "right") and p.action_name == "a+b+right"
    p = parse_response(strict_text("['a', 'b', 'right', 'noop']"), max_buttons=3)
    assert p.buttons is None and "4 buttons given, at most 3 allowed" in p.error


def test_nothing_found():
    for text in ["", "just text", "<answer></answer>", "[1, 2]", "<answer>"]:
        p = parse_response(text)
        assert p.buttons is None and not p.lenient and p.error


def test_non_string_input_is_an_error_not_an_exception():
    assert parse_response(None).error.startswith("expected str")  # type: ignore[arg-type]


def test_format_stats():
    parsed = [parse_response(t) for t in [
        strict_text("['a', 'right']"), strict_text("['right', 'a']"), "<answer>['noop']</answer>", "garbage",
    ]]
    stats = format_stats(parsed)
    assert stats["n"] == 4
    assert stats["strict_rate"] == 0.5 and stats["lenient_rate"] == 0.75
    assert stats["action_dist"] == {"a+right": 0.5, "noop": 0.25, "invalid": 0.25}
    assert format_stats([])["n"] == 0


def _check(p: ParsedResponse):
    assert isinstance(p, ParsedResponse)
    assert (p.buttons is None) == (p.error is not None) == (not p.lenient)
    assert not p.strict or p.lenient
    if p.buttons is not None:
        assert len(p.buttons) <= 2 and set(p.buttons) <= set(BUTTONS) - {"noop"}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzz_arbitrary_text_never_raises(text):
    _check(parse_response(text))


_PIECES = ["<perception>", "</perception>", "<reasoning>", "</reasoning>", "<answer>", "</answer>", "[", "]",
           "'", '"', ",", " ", "\n", "noop", "a", "b", "right", "left", "up", "down", "x", "\u2019"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_fuzz_tag_soup_never_raises(pieces):
    _check(parse_response("".join(pieces)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(BUTTONS), max_size=4), st.text(alphabet="abc <>/.", max_size=20))
def test_fuzz_formatted_answers_round_trip(names, filler):
    text = strict_text(repr(names), perception=filler.replace("<", ""), reasoning=filler.replace("<", ""))
    p = parse_response(text)
    if len(names) > 2:
        assert p.buttons is None and "at most 2" in p.error
    else:
        assert p.strict and set(p.buttons) == set(names) - {"noop"}
