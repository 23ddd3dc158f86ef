"""ROM checks and import, on synthetic files (no commercial ROM is ever used in tests)."""

import hashlib

import gymnasium as gym
import pytest

import gb_gym
from gb_gym.cli import main as cli
from gb_gym.roms import RomError, RomNotFoundError, find_rom, import_roms
from gb_gym.spec import RomInfo


def fake_rom(title: str, size: int = 32 * 1024, fill: int = 0, cart_type: int = 0, ram_size: int = 0) -> bytes:
    data = bytearray(0x150) + bytearray([fill]) * (size - 0x150)
    data[0x134 : 0x134 + len(title)] = title.encode()
    data[0x147], data[0x149] = cart_type, ram_size
    checksum = 0
    for b in data[0x134:0x14D]:
        checksum = (checksum - b - 1) & 0xFF
    data[0x14D] = checksum
    return bytes(data)


@pytest.fixture
def rom_dir(tmp_path, monkeypatch):
    d = tmp_path / "roms"
    monkeypatch.setenv("GB_GYM_ROM_DIR", str(d))
    return d


def test_missing_kirby_rom_names_the_game_and_the_import_command(rom_dir):
    with pytest.raises(RomNotFoundError) as e:
        gym.make("GB/KirbyDreamLand-v0")
    assert "Kirby's Dream Land" in str(e.value) and "gb-gym roms import" in str(e.value)


class _Homebrew(gb_gym.GameSpec):
    """A homebrew game in development: no SHA-256 to match (the ROM changes with every build), not bundled."""

    name, env_id, display_name = "alpha", "GB/Alpha-v0", "Alpha"
    rom = RomInfo(title="ALPHA", filename="alpha.gb")
    levels, default_level, max_episode_steps = ("1",), "1", 10

    def start(self, session, level, seed): ...

    def read(self, gb): ...


def test_missing_homebrew_rom_says_how_it_is_matched_and_not_commercial(rom_dir):
    with pytest.raises(RomNotFoundError) as e:
        find_rom(_Homebrew())
    msg = str(e.value)
    assert "Alpha ROM not found" in msg and "as alpha.gb" in msg and "commercial" not in msg
    assert "`gb-gym roms import DIR` (matched by its header title 'ALPHA')" in msg and "rom_path=" in msg
    with pytest.raises(RomNotFoundError, match=r"\(matched by SHA-256\)"):
        find_rom(gb_gym.get_spec("kirby"))


def test_a_bundled_rom_of_another_package_is_looked_up_there():
    spec = _Homebrew()
    spec.rom = RomInfo(title="ALPHA", filename="alpha.gb", bundled=True, package="json")  # a package without it
    with pytest.raises(RomNotFoundError, match=r"the ROM .*json/roms/alpha\.gb that ships with the json package"):
        find_rom(spec)


def test_import_matches_homebrew_by_header_title(tmp_path):
    src = tmp_path / "build"
    src.mkdir()
    (src / "alpha-dev.gb").write_bytes(fake_rom("ALPHA", fill=7))
    (src / "hopland-copy.gb").write_bytes(fake_rom("HOPLAND"))  # bundled games are never imported by title
    report = import_roms(src, {"alpha": _Homebrew(), "hopland": gb_gym.get_spec("hopland")}, tmp_path / "dest")
    assert list(report.imported) == ["alpha"] and (tmp_path / "dest" / "alpha.gb").read_bytes() == fake_rom("ALPHA", fill=7)
    assert dict(report.skipped)[str(src / "hopland-copy.gb")] == "unknown SHA-256 (header title 'HOPLAND')"


def test_truncated_file_gets_a_clear_error(tmp_path):
    p = tmp_path / "half.gb"
    p.write_bytes(fake_rom("KIRBY DREAM LAN")[:20000])
    with pytest.raises(RomError, match="not a multiple of 16 KiB"):
        find_rom(gb_gym.get_spec("kirby"), p)


def test_non_game_boy_file_gets_a_clear_error(tmp_path):
    p = tmp_path / "notes.gb"
    p.write_bytes(b"hello " * 6000 + b"\0" * (32768 - 36000 % 32768))
    with pytest.raises(RomError, match="checksum"):
        find_rom(gb_gym.get_spec("mario"), p)


def test_wrong_game_is_named(tmp_path):
    p = tmp_path / "other.gb"
    p.write_bytes(fake_rom("TETRIS"))
    with pytest.raises(RomError, match="'TETRIS', not Super Mario Land"):
        gym.make("GB/SuperMarioLand-v0", rom_path=p)


def test_cartridge_type_pyboy_cannot_emulate_is_named(tmp_path):
    p = tmp_path / "pocket.gb"
    p.write_bytes(fake_rom("KIRBY DREAM LAN", cart_type=0x3B))  # PyBoy: KeyError / "Catridge type invalid: 59"
    with pytest.raises(RomError) as e:
        find_rom(gb_gym.get_spec("kirby"), p)
    msg = str(e.value)
    assert str(p) in msg and "cartridge type 0x3B" in msg and "0x01 MBC1" in msg and "0x1E MBC5+RUMBLE+RAM+BATT" in msg
    p.write_bytes(fake_rom("KIRBY DREAM LAN", cart_type=0x01, ram_size=0x3B))
    with pytest.raises(RomError, match="RAM size code 0x3B"):
        find_rom(gb_gym.get_spec("kirby"), p)
    p.write_bytes(fake_rom("KIRBY DREAM LAN", cart_type=0x1B, ram_size=0x03))  # MBC5+RAM+BATT, 32 KiB: fine
    with pytest.warns(UserWarning, match="unknown SHA-256"):
        assert find_rom(gb_gym.get_spec("kirby"), p) == p


def test_unknown_revision_warns(tmp_path):
    p = tmp_path / "rev.gb"
    p.write_bytes(fake_rom("KIRBY DREAM LAN"))
    with pytest.warns(UserWarning, match="unknown SHA-256"):
        assert find_rom(gb_gym.get_spec("kirby"), p) == p


class _FakeSpec:
    def __init__(self, name, data):
        self.name, self.display_name = name, name.title()
        self.rom = RomInfo(title=name.upper(), sha256=(hashlib.sha256(data).hexdigest(),), filename=f"{name}.gb")


def test_import_matches_by_hash_and_reports_skips(tmp_path):
    good, other = fake_rom("ALPHA"), fake_rom("BETA", fill=1)
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "nested" / "whatever-name.gb").write_bytes(good)
    (src / "beta.gb").write_bytes(other)
    (src / "readme.txt").write_text("not a rom")
    dest = tmp_path / "dest"
    games = {"alpha": _FakeSpec("alpha", good)}
    report = import_roms(src, games, dest)
    assert list(report.imported) == ["alpha"]
    assert (dest / "alpha.gb").read_bytes() == good
    skipped = dict(report.skipped)
    assert "unknown SHA-256 (header title 'BETA')" == skipped[str(src / "beta.gb")]
    assert str(src / "readme.txt") in skipped
    again = import_roms(src, games, dest)
    assert list(again.already) == ["alpha"] and not again.imported


def test_import_reads_zip_archives(tmp_path):
    import zipfile

    good = fake_rom("ALPHA")
    with zipfile.ZipFile(tmp_path / "pack.zip", "w") as zf:
        zf.writestr("alpha (World).gb", good)
    report = import_roms(tmp_path / "pack.zip", {"alpha": _FakeSpec("alpha", good)}, tmp_path / "dest")
    assert list(report.imported) == ["alpha"]


def test_cli_list_and_import(rom_dir, tmp_path, capsys):
    assert cli(["roms", "list"]) == 0
    out = capsys.readouterr().out
    assert "GB/Hopland-v0" in out and "bundled" in out
    assert "GB/KirbyDreamLand-v0" in out and "missing" in out
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.gb").write_bytes(fake_rom("NOPE"))
    assert cli(["roms", "import", str(tmp_path / "in")]) == 1  # nothing known found
    out, err = capsys.readouterr()
    assert "0 ROM(s) of known games found, 1 file(s) skipped" in out
    assert err.startswith("gb-gym: error: no ROM of a known game in") and err.count("\n") == 1
    assert cli(["roms", "import", str(tmp_path / "absent")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_import_skips_unreadable_files_with_a_warning(rom_dir, tmp_path, monkeypatch, capsys):
    from pathlib import Path

    good = fake_rom("ALPHA")
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.gb").write_bytes(good)
    (src / "locked.gb").write_bytes(good)
    read_bytes = Path.read_bytes

    def read(self):
        if self.name == "locked.gb":
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read)
    monkeypatch.setattr("gb_gym.cli.installed_games", lambda: {"alpha": _FakeSpec("alpha", good)})
    assert cli(["roms", "import", str(src)]) == 0  # a.gb was imported
    out, err = capsys.readouterr()
    assert f"gb-gym: warning: skipped {src / 'locked.gb'}: unreadable: Permission denied" in err
    assert "1 ROM(s) of known games found, 1 file(s) skipped" in out
    (src / "a.gb").unlink()
    assert cli(["roms", "import", str(src)]) == 1  # only the unreadable one left


def test_cli_expected_errors_are_one_line_without_traceback(rom_dir, capsys):
    assert cli(["states", "--level", "9"]) == 2
    err = capsys.readouterr().err
    assert err == "gb-gym: error: Hopland has no level '9'; levels are: 1, 2, 3, 4\n"
    rom_dir.mkdir()
    (rom_dir / "super_mario_land.gb").write_bytes(fake_rom("SUPER MARIOLAND")[:20000])
    assert cli(["states", "--game", "mario"]) == 2  # a RomError, not a FileNotFoundError
    err = capsys.readouterr().err
    assert err.startswith("gb-gym: error: ") and "not a multiple of 16 KiB" in err and err.count("\n") == 1


def test_cli_as_a_process_exits_2_with_one_line(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "gb_gym.cli", "states", "--level", "9", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == "gb-gym: error: Hopland has no level '9'; levels are: 1, 2, 3, 4"


def test_cli_saves_states_that_reset_can_start_from(tmp_path, capsys):
    assert cli(["states", "--level", "2", "--count", "2", "--every", "5", "--out", str(tmp_path)]) == 0
    files = sorted(tmp_path.glob("hopland-2-x*.state"))
    assert len(files) == 2
    env = gym.make("GB/Hopland-v0")
    _, info = env.reset(options={"state": files[-1]})
    assert info["level"] == "2" and info["x_progress"] == int(files[-1].stem.split("-x")[1])
    env.close()


def test_cli_play_writes_a_gif(tmp_path, capsys):
    gif = tmp_path / "demo.gif"
    assert cli(["play", "--level", "1", "--gif", str(gif)]) == 0
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames > 50 and im.size == (320, 288)
    assert "level complete" in capsys.readouterr().out
