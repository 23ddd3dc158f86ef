"""Games from outside the package: register_game, package.module:Spec, the `gb_gym.games` entry point group,
and the per-game button cap. The installed example package (examples/hopdash) is tested in tests/."""

from importlib.metadata import EntryPoint

import gymnasium as gym
import pytest

import gb_gym
import gb_gym.games as games
from gb_gym import ButtonsSpace, GameSpec, get_spec, installed_games, register_game
from gb_gym.games.hopland import Hopland


class ThreeButtonHopland(Hopland):
    """Hopland's cartridge as another game, whose running jump (a + b + right) is one answer."""

    name = "hopland3"
    env_id = "GB/Hopland3-v0"
    display_name = "Hopland (three buttons)"
    max_buttons = 3


class Impostor(Hopland):  # another class under Hopland's name
    pass


NOT_A_SPEC = 42


@pytest.fixture(autouse=True)
def registry():
    """Whatever a test registers is gone afterwards (the registry is process-wide)."""
    games_before, ids_before = dict(games.GAMES), set(gym.registry)
    yield
    games.GAMES.clear()
    games.GAMES.update(games_before)
    for env_id in set(gym.registry) - ids_before:
        del gym.registry[env_id]


def _entry_points(monkeypatch, *eps: EntryPoint) -> None:
    def fake(group, name=None):
        return [ep for ep in eps if ep.group == group and name in (None, ep.name)]

    monkeypatch.setattr(games, "entry_points", fake)


def test_a_registered_game_is_made_by_name_and_id_and_takes_up_to_its_button_cap():
    spec = register_game(ThreeButtonHopland)
    assert get_spec("hopland3") is spec and gb_gym.GAMES["hopland3"] is spec
    env = gym.make("GB/Hopland3-v0", actions="buttons")
    assert env.action_space == ButtonsSpace(max_buttons=3) and env.spec.max_episode_steps == spec.max_episode_steps
    env.reset(seed=0)
    _, _, _, _, info = env.step(["a", "b", "right"])
    assert info["buttons"] == ("a", "b", "right")
    with pytest.raises(ValueError, match="at most 3 names"):
        env.step(["a", "b", "right", "noop"])
    env.close()
    hopland = gym.make("GB/Hopland-v0", actions="buttons")  # the built-in keeps the default cap of 2
    hopland.reset(seed=0)
    with pytest.raises(ValueError, match="at most 2 names"):
        hopland.step(["a", "b", "right"])
    hopland.close()


def test_registering_again_is_a_no_op_and_clashes_are_named():
    spec = register_game(ThreeButtonHopland())
    assert register_game(ThreeButtonHopland) is spec
    with pytest.raises(ValueError, match=r"game name 'hopland' of .*Impostor is taken by gb_gym\.games\.hopland\.Hopland"):
        register_game(Impostor)

    class SameId(Hopland):
        name = "other"

    with pytest.raises(ValueError, match="env id 'GB/Hopland-v0' .* is taken by gb_gym.games.hopland.Hopland"):
        register_game(SameId)

    class GymOwned(Hopland):
        name, env_id = "cartpole", "CartPole-v1"

    with pytest.raises(ValueError, match="'CartPole-v1' .* is already a Gymnasium env"):
        register_game(GymOwned)
    with pytest.raises(TypeError, match="GameSpec instance or subclass"):
        register_game("hopland")

    class NoSuchLevel(Hopland):
        name, env_id, default_level = "nolevel", "GB/NoLevel-v0", "9"

    with pytest.raises(ValueError, match="has no level '9'"):
        register_game(NoSuchLevel)

    class TooMany(Hopland):
        name, env_id, max_buttons = "toomany", "GB/TooMany-v0", 7

    with pytest.raises(ValueError, match="max_buttons=7: expected an int from 1 to 6"):
        register_game(TooMany)
    assert "nolevel" not in gb_gym.GAMES and "toomany" not in gb_gym.GAMES


def test_package_module_spec_is_imported_and_registered():
    spec = get_spec(f"{__name__}:ThreeButtonHopland")
    assert isinstance(spec, ThreeButtonHopland) and get_spec("hopland3") is spec
    assert "GB/Hopland3-v0" in gym.registry
    with pytest.raises(ValueError, match=r"cannot load game 'no_such_pkg\.mod:X'.*ModuleNotFoundError"):
        get_spec("no_such_pkg.mod:X")
    with pytest.raises(ValueError, match=r"cannot load game .*AttributeError"):
        get_spec(f"{__name__}:Missing")
    with pytest.raises(ValueError, match="is 42, not a GameSpec subclass or instance"):
        get_spec(f"{__name__}:NOT_A_SPEC")


def test_an_unknown_name_says_how_to_add_a_game():
    with pytest.raises(ValueError) as e:
        get_spec("tetris")
    msg = str(e.value)
    assert "unknown game 'tetris'; games: hopland, mario, kirby" in msg
    assert "gb_gym.register_game(spec)" in msg and "'gb_gym.games' entry point group" in msg
    assert "'package.module:SpecClass'" in msg


def test_installed_games_are_found_by_name_and_listed(monkeypatch):
    good = EntryPoint(name="hopland3", value=f"{__name__}:ThreeButtonHopland", group=games.ENTRY_POINT_GROUP)
    broken = EntryPoint(name="broken", value="no_such_pkg.game:Broken", group=games.ENTRY_POINT_GROUP)
    _entry_points(monkeypatch, good, broken)
    assert "hopland3" not in gb_gym.GAMES
    assert get_spec("hopland3").max_buttons == 3  # loaded on first use
    del gb_gym.GAMES["hopland3"]
    with pytest.warns(UserWarning, match=r"skipped: cannot load game 'broken' \(no_such_pkg\.game:Broken, .*ModuleNotFound"):
        listed = installed_games()
    assert list(listed) == ["hopland", "mario", "kirby", "hopland3"]
    with pytest.raises(ValueError, match="cannot load game 'broken'.*No module named 'no_such_pkg'"):
        get_spec("broken")


def test_an_entry_point_must_be_named_as_its_game(monkeypatch):
    misnamed = EntryPoint(name="hl3", value=f"{__name__}:ThreeButtonHopland", group=games.ENTRY_POINT_GROUP)
    _entry_points(monkeypatch, misnamed)
    with pytest.raises(ValueError, match="entry point 'hl3' .* loads a game named 'hopland3': the entry point's name"):
        get_spec("hl3")
    assert "hopland3" not in gb_gym.GAMES


def test_a_spec_instance_plays_without_registration():
    env = gb_gym.GameBoyEnv(game=ThreeButtonHopland(), actions="buttons")
    assert env.action_space.max_buttons == 3 and "hopland3" not in gb_gym.GAMES
    env.close()


def test_the_default_cap_lives_on_the_spec():
    assert GameSpec.max_buttons == 2 and all(get_spec(g).max_buttons == 2 for g in ("hopland", "mario", "kirby"))


class Homebrew(Hopland):
    """A homebrew game in development: its ROM is a build output, matched by header title (no SHA-256)."""

    name, env_id, display_name = "homebrew", "GB/Homebrew-v0", "Homebrew"
    rom = gb_gym.RomInfo(title="HOPLAND", filename="homebrew.gb")


def test_roms_list_and_import_cover_installed_games(monkeypatch, tmp_path, capsys):
    from pathlib import Path

    from gb_gym.cli import main as cli

    monkeypatch.setenv("GB_GYM_ROM_DIR", str(tmp_path / "roms"))
    _entry_points(monkeypatch, EntryPoint(name="homebrew", value=f"{__name__}:Homebrew", group=games.ENTRY_POINT_GROUP))
    assert cli(["roms", "list"]) == 0
    assert "homebrew     GB/Homebrew-v0           Homebrew               missing" in capsys.readouterr().out
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.gb").write_bytes(Path(gb_gym.roms.find_rom(get_spec("hopland"))).read_bytes())
    assert cli(["roms", "import", str(tmp_path / "build")]) == 0
    assert f"imported  Homebrew               -> {tmp_path / 'roms' / 'homebrew.gb'}" in capsys.readouterr().out
    env = gym.make("GB/Homebrew-v0")  # found in the ROM folder now
    assert env.unwrapped.rom_path == tmp_path / "roms" / "homebrew.gb"
    env.close()
