import pytest

from gb_gym.actions import (
    ANSWER_NAMES,
    ENGINEERED,
    ORIGINAL,
    TURN,
    ButtonsSpace,
    TurnProtocol,
    make_action_space,
    parse_buttons,
)


def test_original_is_noop_plus_every_one_or_two_buttons():
    assert len(ORIGINAL) == 22
    assert ORIGINAL[0] == ()
    assert len(set(ORIGINAL)) == 22
    assert sum(len(a) == 1 for a in ORIGINAL) == 6 and sum(len(a) == 2 for a in ORIGINAL) == 15


def test_engineered_is_the_papers_eight():
    assert [set(a) for a in ENGINEERED] == [
        {"right"}, {"right", "a"}, {"right", "a", "b"}, {"left"}, {"left", "a"}, {"right", "b"}, {"left", "b"}, {"a"},
    ]


@pytest.mark.parametrize(
    "given, expected",
    [
        (["right", "a"], ("a", "right")),
        (["noop"], ()),
        ([], ()),
        ("b", ("b",)),
        ([" Right ", "A"], ("a", "right")),
        (["noop", "a"], ("a",)),  # as the answer parser: noop presses nothing, the other name counts
        (["a", "a"], ("a",)),
        (("NOOP", "noop"), ()),
    ],
)
def test_parse_buttons_accepts_valid_names(given, expected):
    assert parse_buttons(given) == expected


@pytest.mark.parametrize(
    "given, words",
    [
        (["a", "b", "right"], "at most 2"),
        (["a", "a", "b"], "at most 2"),  # three entries, even with a repeat
        (["noop", "a", "b"], "at most 2"),
        (["jump"], "allowed are"),
        ([""], "allowed are"),
        (["a", 1], "must be a button name"),
        (3, "expected a list"),
    ],
)
def test_parse_buttons_rejects_with_a_message_that_says_what_is_allowed(given, words):
    with pytest.raises(ValueError, match=words):
        parse_buttons(given)


def test_buttons_space_samples_are_members():
    space = ButtonsSpace(seed=0)
    samples = [space.sample() for _ in range(200)]
    assert all(space.contains(s) for s in samples)
    assert len(set(samples)) > 15  # covers most of the 22 sets
    assert not space.contains(("a", "b", "left"))
    assert not space.contains("a")


def test_the_cap_is_per_game_three_lets_a_running_jump_be_one_answer():
    assert parse_buttons(["a", "b", "right"], max_buttons=3) == ("a", "b", "right")
    with pytest.raises(ValueError, match="at most 3 names"):
        parse_buttons(["a", "b", "right", "noop"], max_buttons=3)
    space = ButtonsSpace(max_buttons=3, seed=0)
    samples = {space.sample() for _ in range(400)}
    assert max(len(s) for s in samples) == 3 and all(space.contains(s) for s in samples)
    assert len(samples) > 35  # most of the 1 + 6 + 15 + 20 = 42 sets
    assert space.contains(["a", "b", "right"]) and not ButtonsSpace().contains(["a", "b", "right"])
    assert space != ButtonsSpace() and repr(space) == "ButtonsSpace(max_buttons=3)"
    space, table = make_action_space("buttons", 3)
    assert space == ButtonsSpace(max_buttons=3) and table is None
    with pytest.raises(ValueError, match="invalid max_buttons=0: expected an int from 1 to 6"):
        ButtonsSpace(max_buttons=0)


def test_unknown_action_kind():
    with pytest.raises(ValueError, match="original, engineered, buttons"):
        make_action_space("all")


def test_turn_protocol_frames():
    assert (TURN.frames, TURN.jump_frames, TURN.release) == (5, 15, 2)
    assert [TURN.frames_for(b) for b in [(), ("b", "right"), ("a",), ("a", "left")]] == [5, 5, 15, 15]
    assert TurnProtocol(4, 12, 1).frames_for(("a", "b")) == 12


def test_answer_names_in_canonical_order():
    assert ANSWER_NAMES == ("a", "b", "up", "down", "left", "right", "noop")


def _rule(entries):
    """The stated rule (also the VLM answer parser's): at most 2 entries, each a name from ANSWER_NAMES
    after strip + lower; pressed = the distinct non-noop names in BUTTONS order. None = rejected."""
    names = [e.strip().lower() for e in entries]
    if len(names) > 2 or not set(names) <= set(ANSWER_NAMES):
        return None
    return tuple(b for b in ANSWER_NAMES[:6] if b in names)


def test_buttons_space_and_parse_buttons_agree_with_the_answer_rule_on_every_short_list():
    from itertools import product

    space = ButtonsSpace()
    words = list(ANSWER_NAMES) + ["A", " Right ", "NOOP", "Down ", "jump"]
    accepted, results = 0, set()
    for k in range(4):
        for entries in product(words, repeat=k):
            expected = _rule(entries)
            try:
                got = parse_buttons(list(entries))
            except ValueError:
                got = None
            assert got == expected, entries
            assert space.contains(list(entries)) == (expected is not None), entries
            if got is not None:
                assert space.contains(got) and got in ORIGINAL
                accepted += 1
                results.add(got)
    # 1 empty + 12 singles + 144 pairs of the 12 words, less those naming "jump" (1 single, 23 pairs)
    assert accepted == 1 + 11 + 121
    assert results == set(ORIGINAL)  # every one of the 22 sets is reachable, nothing else
