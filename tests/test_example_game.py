"""A new game without forking the project: the example package examples/hopdash (a GameSpec of its own, declared
in the `gb_gym.games` entry point group) is installed into a scratch folder, never the shared site-packages, and
every tool finds it by name in fresh processes: `gb-gym roms list`, gym.make, the VLM trainer and the SB3
baseline with subprocess workers. Neither package is changed for it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hopdash"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site folder, environment) with hopdash installed into the site folder, first on PYTHONPATH before this
    worktree's two packages."""
    tmp = tmp_path_factory.mktemp("hopdash")
    src = tmp / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(src)],
        capture_output=True, text=True, timeout=180,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    path = [str(site), str(ROOT / "packages/gb-gym/src"), str(ROOT / "packages/vlm-rl/src")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), HF_HUB_OFFLINE="1", VLM_RL_CACHE=str(tmp / "cache"),
               GB_GYM_ROM_DIR=str(tmp / "roms"))
    return site, env


def _run(args: list[str], env: dict, timeout: int = 240) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-4000:])
    return res


def test_roms_list_shows_the_installed_game_with_the_rom_it_ships(installed):
    site, env = installed
    out = _run(["-m", "gb_gym.cli", "roms", "list"], env).stdout
    rom = site / "hopdash" / "roms" / "hopdash.gb"
    assert f"hopdash      GB/HopDash-v0            Hop Dash               bundled  {rom}" in out
    assert rom.read_bytes() == (ROOT / "packages/gb-gym/src/gb_gym/roms/hopland.gb").read_bytes()


PLAY = """
import json, gymnasium as gym
env = gym.make("hopdash:GB/HopDash-v0", actions="buttons")  # Gymnasium's module:id imports the package first
env.reset(seed=0)
for _ in range(8):
    _, _, terminated, _, info = env.step(["a", "b", "right"])  # a running jump is one answer: max_buttons = 3
    if terminated:
        break
mem = env.unwrapped.pyboy.memory
import gb_gym
from vlm_rl.prompts import prompt_text
print(json.dumps({"space": repr(env.action_space), "buttons": info["buttons"], "x": info["x_progress"],
                  "distance": mem[0xC004] | mem[0xC005] << 8, "stomps": mem[0xC042],
                  "by_name": gb_gym.GameBoyEnv(game="hopdash").spec_game.display_name,
                  "prompt": prompt_text("hopdash")}))
"""


def test_gym_make_plays_it_with_its_own_button_cap_reward_and_prompt(installed):
    _, env = installed
    got = json.loads(_run(["-c", PLAY], env).stdout.splitlines()[-1])
    assert got["space"] == "ButtonsSpace(max_buttons=3)" and got["buttons"] == ["a", "b", "right"]
    assert got["x"] == got["distance"] + 32 * got["stomps"] and got["distance"] > 16  # moved from the start
    assert got["by_name"] == "Hop Dash"
    assert got["prompt"].startswith("You are playing Hop Dash, a side-scrolling platformer.")  # its entry point's
    assert got["prompt"].endswith("in one turn is 3.")


def test_the_trainer_takes_it_by_name_and_rl_changes_the_policy(installed, tmp_path):
    import torch
    from safetensors.torch import load_file

    _, env = installed
    out = tmp_path / "run"
    _run(["-m", "vlm_rl.train", "env.game=hopdash", "stages=[rl]", "rl.init=base", "rl.steps=2",
          "rl.trajectories=4", "rl.envs=4", "rl.max_new_tokens=24", "rl.minibatch_size=16", "rl.micro_batch_size=8",
          "rl.critic.warmup_steps=0", "env.max_turns=4", f"out_dir={out}"], env)
    assert "game: hopdash" in (out / "config.yaml").read_text()  # levels: the spec's default level
    assert json.loads((out / "rl" / "DONE.json").read_text())["steps"] == 2
    rows = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and rows[-1]["samples"] == 32 and rows[-1]["actor/updated"] == 1.0
    base = json.loads((out / "rl" / "policy" / "vlm_rl_policy.json").read_text())["base"]
    before, after = load_file(next(Path(base).glob("*.safetensors"))), load_file(out / "rl" / "policy" / "model.safetensors")
    assert before.keys() == after.keys()
    changed = sum(not torch.equal(before[k], after[k]) for k in before)
    assert changed > len(before) // 2, f"only {changed} of {len(before)} tensors changed"


def test_sb3_subprocess_workers_resolve_a_package_module_spec(installed, tmp_path):
    _, env = installed
    out = tmp_path / "sb3"
    _run(["-m", "vlm_rl.baselines.sb3", "env.game=hopdash.game:HopDash", "n_envs=2", "subproc=true",
          "total_samples=32", "ppo.batch_size=32", "ppo.minibatch_size=16", "ppo.epochs=1", "eval.every=32",
          "eval.episodes=1", "eval.envs=1", "env.max_turns=8", "device=cpu", f"out_dir={out}"], env)
    assert json.loads((out / "DONE.json").read_text()) == {"samples": 32, "method": "sb3_ppo_engineered"}
    rows = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    assert [(r["samples"], r["level"]) for r in rows] == [(0, "1"), (32, "1")]
