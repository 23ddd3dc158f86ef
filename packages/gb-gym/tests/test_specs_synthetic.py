"""Kirby and Mario specs on synthetic RAM (the real ROMs are tested in tests/test_rom_games.py when present)."""

from gb_gym import get_spec
from gb_gym.games import kirby, mario
from gb_gym.spec import GameState
from gb_gym.testing import FakeGameBoy


def test_mario_progress_lives_and_flags():
    gb = FakeGameBoy().poke({mario.LEVEL_BLOCK: 12, mario.MARIO_X: 40, mario.LIVES: 0x12, mario.WORLD_LEVEL: 0x21})
    gb.screen.scx_by_line[16] = 0x23  # (0x23 - 7) % 16 = 12
    st = get_spec("mario").read(gb)
    assert st.x_progress == 12 * 16 + 12 + 40
    assert st.lives == 12 and st.level == "2-1"
    assert not st.dying and not st.game_over
    gb.memory[mario.DEATH_TIMER] = 0x90
    gb.memory[mario.GAME_OVER] = 0x39
    st = get_spec("mario").read(gb)
    assert st.dying and st.game_over


def test_mario_fine_scroll_wraps():
    gb = FakeGameBoy().poke({mario.LEVEL_BLOCK: 1, mario.MARIO_X: 0})
    gb.screen.scx_by_line[16] = 3  # (3 - 7) % 16 = 12
    assert get_spec("mario").read(gb).x_progress == 16 + 12


def test_mario_has_all_twelve_levels():
    assert get_spec("mario").levels[:3] == ("1-1", "1-2", "1-3") and len(get_spec("mario").levels) == 12


def test_kirby_progress_lives_health():
    gb = FakeGameBoy().poke({kirby.SCROLL_BLOCK: 5, 0xFF43: 0x10, kirby.KIRBY_X: 70, kirby.HEALTH: 6, kirby.LIVES_PLUS_ONE: 5})
    st = get_spec("kirby").read(gb)
    assert st.x_progress == 5 * 16 + (0x10 - 7) % 16 + 70
    assert st.lives == 4 and not st.dying
    gb.memory[kirby.HEALTH] = 0
    assert get_spec("kirby").read(gb).dying


def _state(level, complete=False, game_over=False):
    return GameState(x_progress=0, level=level, lives=2, dying=False, game_over=game_over, level_complete=complete)


def test_level_complete_rule_is_the_games_own():
    mario, hopland, kirby = get_spec("mario"), get_spec("hopland"), get_spec("kirby")
    # Mario has no flag: its world/level byte moving on ends the level, unless into game over
    assert mario.level_complete(_state("1-1"), _state("1-2")) is True
    assert mario.level_complete(_state("1-1"), _state("1-1")) is False
    assert mario.level_complete(_state("1-1"), _state("1-2", game_over=True)) is False
    # games with a flag: only the flag counts
    assert hopland.level_complete(_state("1"), _state("2")) is False
    assert hopland.level_complete(_state("1"), _state("1", complete=True)) is True
    assert kirby.level_complete(_state("1"), _state("1", complete=True)) is True
