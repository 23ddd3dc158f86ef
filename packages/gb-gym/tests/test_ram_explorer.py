"""`gb-gym ram`: record play, find RAM addresses from how they move, check specs, write skeletons.

Hopland is played by a button script that backs off, loses a life (the scripted player for 34
turns, then RIGHT into a walker) and hands over to the scripted player, which clears level 1.
The finder sees only the recording and the event turns a user would read off the GIF; the
documented RAM map (hopland_ram) is used here to play those eyes and to grade the answers.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest

from gb_gym import get_spec
from gb_gym.cli import main
from gb_gym.games import hopland_ram as ram
from gb_gym.games.hopland import Hopland
from gb_gym.games.kirby import KirbyDreamLand
from gb_gym.ram.check import check_spec
from gb_gym.ram.find import find
from gb_gym.ram.play import ScriptItem, parse_script, record
from gb_gym.ram.recording import RecordedGameBoy, Recording
from gb_gym.ram.series import Value
from gb_gym.ram.skeleton import write_skeleton

SCRIPT = "right*6, left*8, bot*34, right*10, noop*14, right*4, left*6, bot*230"


@pytest.fixture(scope="module")
def play(tmp_path_factory):
    """The Hopland recording (saved and loaded back) and the turns a user would mark."""
    path = tmp_path_factory.mktemp("ram") / "hopland.npz"
    record("hopland", script=SCRIPT, seed=0).save(path)
    rec = Recording.load(path)
    state = rec.ram[:, rec.column(ram.STATE)]
    lives = rec.ram[:, rec.column(ram.LIVES)].astype(int)
    deaths = [int(t) for t in np.flatnonzero(np.diff(lives) < 0) + 1]
    levels = [int(t) for t in np.flatnonzero((state[1:] == ram.STATE_COMPLETE) & (state[:-1] != ram.STATE_COMPLETE)) + 1]
    assert len(deaths) == 1 and len(levels) == 1, f"the script no longer dies once and clears level 1: {deaths} {levels}"
    return rec, deaths, levels, path


def test_button_script_grammar():
    assert parse_script("right*3, a+right\n# a comment\nnoop*2, bot*5, start") == [
        ScriptItem(("right",), 3), ScriptItem(("a", "right"), 1), ScriptItem((), 2), ScriptItem(None, 5),
        ScriptItem(("start",), 1),
    ]
    for bad, why in (("jump*3", "jump"), ("a+b+right", "at most 2"), ("right*0", "at least 1"), (" , ", "empty"),
                     ("right*x", r"BUTTONS\*TURNS")):
        with pytest.raises(ValueError, match=why):
            parse_script(bad)


def test_recording_holds_every_turn(play):
    rec, _, _, _ = play
    assert rec.turns == 312 and rec.ram.shape == (313, 0x2000 + 0x100) and rec.frames.shape == (313, 144, 160, 3)
    assert list(rec.buttons[1:4]) == ["right"] * 3 and rec.buttons[7] == "left" and rec.turn_frames[1] == 5
    # row t is the RAM after turn t: x-progress starts at 16 and walking right moves it
    x = ram.x_progress(RecordedGameBoy(rec, 0).memory), ram.x_progress(RecordedGameBoy(rec, 6).memory)
    assert x[0] == ram.LEVEL_START_X and x[1] > x[0] + 20
    assert rec.meta["title"] == "HOPLAND" and rec.meta["played"] == SCRIPT


def test_finder_finds_the_documented_addresses_from_play_alone(play):
    rec, deaths, levels, _ = play
    # a user is a turn or two off; the finder allows `window` turns either way
    found = find(rec, deaths=[deaths[0] + 1], levels=[levels[0] - 2])
    assert found.x_progress[0].value == Value("u16le", (ram.X_PROGRESS, ram.X_PROGRESS + 1))
    assert found.lives[0].value.addrs == (ram.LIVES,)
    assert (found.level_complete[0].value.addrs, found.level_complete[0].flag) == ((ram.STATE,), ram.STATE_COMPLETE)
    assert (found.dying[0].value.addrs, found.dying[0].flag) == ((ram.STATE,), ram.STATE_DYING)
    assert found.level[0].value.addrs == (ram.LEVEL,)
    assert ram.FRAME in [c.value.addrs[0] for c in found.counters]
    # unmarked, the x-progress candidate's jumps back point at the respawn and the next level's start
    assert len(find(rec).resets) == 2


def test_check_passes_the_hopland_spec_and_flags_wrong_formulas(play):
    rec, _, _, _ = play
    ok = check_spec(rec, get_spec("hopland"))
    assert ok.problems == [], ok.lines
    assert any("equals it" in line for line in ok.lines)
    low_byte = check_spec(rec, formula="mem[0xC004]")  # wraps at 256 px: jumps nowhere near a death
    assert any("jumps where no death" in p for p in low_byte.problems)
    camera = check_spec(rec, formula="mem[0xC00C] | mem[0xC00D] << 8")  # the camera never moves left
    assert any("follows the motion worse than 0xC004 u16le" in p for p in camera.problems)


def test_check_flags_a_spec_that_reads_the_wrong_bytes(play):
    rec, _, _, _ = play

    class WrongHopland(Hopland):
        def read(self, gb):
            st = super().read(gb)
            return replace(st, x_progress=ram.camera_x(gb.memory), lives=gb.memory[ram.STOMPS] + 3)

    problems = check_spec(rec, WrongHopland()).problems
    assert any("follows the motion worse" in p for p in problems)
    assert any(p.startswith("lives:") for p in problems)


def test_skeleton_imports_and_reads_what_the_spec_reads(play, tmp_path):
    rec, deaths, levels, _ = play
    path = write_skeleton(tmp_path / "found_spec.py", rec, find(rec, deaths=deaths, levels=levels))
    module_spec = importlib.util.spec_from_file_location("found_spec", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    spec, truth = module.Hopland(), Hopland()
    for t in range(0, rec.turns + 1, 7):
        got, want = spec.read(RecordedGameBoy(rec, t)), truth.read(RecordedGameBoy(rec, t))
        assert (got.x_progress, got.lives, got.dying, got.level_complete) == (
            want.x_progress, want.lives, want.dying, want.level_complete), t
    with pytest.raises(NotImplementedError, match="first playable frame"):
        spec.start(None, "0", 0)


def test_cli_record_find_check(tmp_path, capsys):
    out = tmp_path / "short.npz"
    assert main(["ram", "record", "--game", "hopland", "--script", "right*8, left*6, b+right*12", "--out", str(out)]) == 0
    assert main(["ram", "find", str(out), "--skeleton", str(tmp_path / "s.py")]) == 0
    text = capsys.readouterr().out
    assert "1. 0xC004 u16le" in text and "lives (falls by 1" in text and "not looked for" in text
    assert (tmp_path / "s.py").is_file()
    assert main(["ram", "check", str(out), "--spec", "hopland"]) == 0
    assert main(["ram", "check", str(out), "--formula", "mem[0xC00E]"]) == 1  # the frame counter: not progress
    assert "problem(s)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["ram", "find", "missing.npz"], "does not exist"),
    (["ram", "record", "--game", "hopland", "--script", "run*3", "--out", "x.npz"], "invalid button script item"),
    (["ram", "record", "--out", "x.npz", "--script", "right"], "--game NAME"),
    (["ram", "record", "--rom", "REC", "--script", "right", "--out", "x.npz"], "not a multiple of 16 KiB"),
    (["ram", "find", "REC", "--deaths", "9999"], "outside the recording"),
    (["ram", "check", "REC", "--formula", "mem[0x8000]"], "not in the recording"),
    (["ram", "check", "REC", "--formula", "mem[0xC004] +"], "cannot evaluate"),
])
def test_cli_errors_are_one_line(play, argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(play[3]) if a == "REC" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gb-gym: error:") and message in err and "\n" not in err


def test_a_damaged_recording_is_refused(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a recording"):
        Recording.load(bad)


TURNS = 120
WORLD_X = 40 + 3 * np.arange(TURNS + 1)  # synthetic play: 3 px a turn, RIGHT held


def _synthetic(values: dict[int, np.ndarray]) -> Recording:
    turns = TURNS
    rec = Recording(
        ram=np.zeros((turns + 1, 0x2100), np.uint8), regions=np.array([[0xC000, 0xE000], [0xFF00, 0x10000]]),
        frames=np.zeros((turns + 1, 1, 1, 3), np.uint8), scroll=np.zeros((turns + 1, 144, 4), np.int16),
        buttons=np.array([""] + ["right"] * turns), turn_frames=np.array([0] + [5] * turns),
    )
    for addr, series in values.items():
        rec.ram[:, rec.column(addr)] = series
    return rec


def _kirby_like(scx_offset: int) -> Recording:
    """Synthetic Kirby RAM: the coarse scroll block is x // 16 and SCX holds x + `scx_offset` (the
    game's own relation, which the spec assumes is +7); Kirby stays at x 72 on screen."""
    x = WORLD_X
    return _synthetic({0xD053: x // 16, 0xFF43: (x + scx_offset) % 256, 0xD05C: np.full_like(x, 72),
                       0xD086: np.full_like(x, 6), 0xD089: np.full_like(x, 5)})


def test_check_catches_a_misaligned_coarse_and_fine_scroll_formula():
    """The failure the Kirby formula may have (docs/ram-explorer.md): coarse block and fine scroll
    out of step make x-progress fall 16 px once every 16 px of motion."""
    assert check_spec(_kirby_like(7), KirbyDreamLand()).problems == []
    wrong = check_spec(_kirby_like(0), KirbyDreamLand()).problems
    assert any("falls on" in p for p in wrong), wrong
    fixed = check_spec(_kirby_like(0), formula="mem[0xD053] * 16 + mem[0xFF43] % 16 + mem[0xD05C]")
    assert fixed.problems == []


def test_a_bare_rom_is_recorded_from_power_on():
    """No spec: the script presses START on the title itself (Hopland's title shows after 77 frames)."""
    from importlib import resources

    rom = str(resources.files("gb_gym") / "roms" / "hopland.gb")
    rec = record(rom=rom, script="noop*20, start, noop*3, right*10")
    assert rec.meta["game"] is None and rec.meta["title"] == "HOPLAND" and rec.turns == 34
    x = ram.x_progress(RecordedGameBoy(rec, rec.turns).memory)
    assert rec.ram[-1, rec.column(ram.STATE)] == ram.STATE_PLAYING and x > ram.LEVEL_START_X + 20


def test_mario_is_checked_with_the_recorded_per_line_scroll():
    """Super Mario Land's spec reads the playfield's SCX from line 16 of `screen.tilemap_position_list`,
    which the recording keeps; the HUD lines above do not scroll."""
    from gb_gym.games.mario import PROGRESS_SCANLINE, SuperMarioLand
    from gb_gym.ram.check import spec_series

    x = WORLD_X
    rec = _synthetic({0xC0AB: x // 16, 0xC202: np.full_like(x, 60), 0xDA15: np.full_like(x, 0x03),
                      0xFFB4: np.full_like(x, 0x11)})
    rec.scroll[:, PROGRESS_SCANLINE:, 0] = ((x + 7) % 256)[:, None]
    assert np.array_equal(spec_series(rec, SuperMarioLand())["x"], x + 60)
    assert check_spec(rec, SuperMarioLand()).problems == []


def test_lives_counted_in_bcd_are_found():
    """10 lives in BCD is 0x10; losing one makes it 0x09, a byte step of -7."""
    from gb_gym.ram.find import find_lives

    lives = np.where(np.arange(TURNS + 1) < 50, 0x10, 0x09)
    decoy = np.where(np.arange(TURNS + 1) < 50, 5, 4) + (np.arange(TURNS + 1) > 90)  # also moves elsewhere
    rec = _synthetic({0xDA15: lives, 0xC100: decoy, 0xC101: decoy, 0xC102: decoy, 0xC103: decoy})
    found = find_lives(rec, deaths=[51], window=3)
    assert [c.value.addrs for c in found][:1] == [(0xDA15,)]
