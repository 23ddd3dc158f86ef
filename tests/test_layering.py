"""The trainer depends on the env library, never the reverse."""

import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def test_gb_gym_declares_no_trainer_dependency():
    deps = tomllib.loads((ROOT / "packages/gb-gym/pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("<")[0].strip() for d in deps}
    assert names == {"gymnasium", "pyboy", "numpy", "pillow"}
    vlm = tomllib.loads((ROOT / "packages/vlm-rl/pyproject.toml").read_text())["project"]["dependencies"]
    assert "gb-gym" in vlm


def test_importing_and_playing_gb_gym_loads_no_trainer_or_torch():
    code = (
        "import sys, gymnasium as gym, gb_gym\n"
        "env = gym.make('GB/Hopland-v0'); env.reset(seed=0); env.step(0); env.close()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('vlm_rl', 'torch', 'transformers'))\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]


def test_no_commercial_rom_is_tracked():
    files = subprocess.run(["git", "ls-files", "*.gb", "*.gbc"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for f in files:
        title = (ROOT / f).read_bytes()[0x134:0x143].decode("ascii", "replace")
        assert title.startswith("HOPLAND"), f"{f} has header title {title!r}: only our own cartridge may be committed"
