"""The main job end to end on our cartridge with the tiny model, shrunk to seconds: stages, learning, resume."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vlm_rl.cli import compose
from vlm_rl.config import ConfigError
from vlm_rl.metrics import read_metrics
from vlm_rl.train import train

FAST = [
    "+exp=hopland",
    "env.levels=[1,2]",
    "annotate.frames=160",
    "annotate.heldout=0.25",
    "annotate.max_turns=20",
    "sft.batch_size=8",
    "sft.eval_frames=8",
    "sft.log_every=1",
    "rl.steps=2",
    "rl.trajectories=4",
    "rl.envs=4",
    "rl.max_new_tokens=48",
    "rl.minibatch_size=16",
    "rl.micro_batch_size=8",
    "rl.critic.warmup_steps=1",
    "env.max_turns=6",
    "eval.episodes=2",
    "eval.video=false",
]


def _weights(policy_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(next(policy_dir.glob("*.safetensors")))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = compose(FAST + [f"out_dir={out}"])
    result = train(cfg)
    return out, result


def test_every_stage_writes_its_outputs(run):
    out, result = run
    assert set(result["timings"]) == {"annotate", "sft", "rl", "eval"}
    done = json.loads((out / "data" / "DONE.json").read_text())
    assert done["counts"]["train"] + done["counts"]["test"] == 160 and done["counts"]["test"] > 0
    report = json.loads((out / "sft" / "report.json").read_text())
    assert 0 <= report["strict_rate"] <= 1 and report["heldout_frames"] == done["counts"]["test"]
    for name in ("results.md", "results.csv", "results.json", "perception.json", "summary.txt"):
        assert (out / "eval" / name).is_file()
    table = json.loads((out / "eval" / "results.json").read_text())
    assert set(table) == {"SFT", "RL"} and all(len(v) == 2 for v in table["RL"]["values"].values())
    assert (out / "rl" / "tb").is_dir() and list((out / "rl" / "tb").iterdir())


def test_the_dataset_loads_with_hugging_face_datasets(run, tmp_path):
    import datasets

    out, _ = run
    ds = datasets.load_dataset("imagefolder", data_dir=str(out / "data"), cache_dir=str(tmp_path))
    assert set(ds) == {"train", "test"} and ds["train"].num_rows + ds["test"].num_rows == 160
    row = ds["train"][0]
    assert row["image"].size == (160, 144) and row["text"].startswith("<perception>")
    assert set(row["facts"]) == {"stance", "hazard", "enemy"} and row["buttons"] is not None


def test_sft_lowers_the_loss(run):
    out, _ = run
    losses = [m["sft/loss"] for m in read_metrics(out / "sft" / "metrics.jsonl") if "sft/loss" in m]
    assert len(losses) >= 10
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.6 * first, (first, last)


def test_rl_changes_the_policy_and_logs_its_metrics(run):
    out, _ = run
    before, after = _weights(out / "sft" / "policy"), _weights(out / "rl" / "policy")
    assert before.keys() == after.keys()
    changed = sum(not torch.equal(before[k], after[k]) for k in before)
    assert changed > len(before) // 2, f"only {changed} of {len(before)} tensors changed"
    rows = read_metrics(out / "rl" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[0]["actor/updated"] == 0.0  # critic warm-up step
    assert rows[1]["actor/updated"] == 1.0 and "actor/clipfrac" in rows[1] and "critic/value_loss" in rows[1]
    assert rows[1]["samples"] > rows[0]["samples"] > 0
    assert all(0 <= r["rollout/format_strict"] <= 1 for r in rows)
    assert abs(sum(v for k, v in rows[1].items() if k.startswith("curriculum/")) - 1) < 1e-6


def test_evaluate_greedy_and_sampled_from_saved_states_and_held_out_levels(run, tmp_path):
    import gymnasium as gym

    from vlm_rl.evaluate import evaluate

    out, _ = run
    env = gym.make("GB/Hopland-v0", actions="buttons")
    env.reset(seed=3, options={"level": "4"})
    for _ in range(5):
        env.step(["b", "right"])
    (tmp_path / "mid4.state").write_bytes(env.unwrapped.clone_state())
    env.close()
    cfg = compose(FAST + [f"out_dir={out}", "eval.decoding=both", "eval.policies=[sft]", "eval.levels=[3]",
                          f"eval.states=[{tmp_path / 'mid4.state'}]", "eval.video=true"])
    res = evaluate(cfg)["results"]
    assert set(res) == {"SFT (sampled)", "SFT (greedy)"}
    for r in res.values():
        assert set(r) == {"3", "state:mid4"} and all(len(v) == 2 for v in r.values())
    assert (out / "eval" / "sft_greedy_best.gif").is_file() and (out / "eval" / "sft_sampled_median.gif").is_file()


def test_an_existing_run_is_not_overwritten(run):
    out, _ = run
    with pytest.raises(FileExistsError, match="resume=true"):
        train(compose(FAST + [f"out_dir={out}"]))


def test_invalid_config_values_are_named():
    with pytest.raises(ConfigError, match="rl.trajectories=5 is not a multiple of algo.group_size=4"):
        compose(FAST + ["algo=grpo_outcome", "rl.trajectories=5"])
    with pytest.raises(ConfigError, match="invalid rl.top_p=1.5"):
        compose(FAST + ["rl.top_p=1.5"])
    with pytest.raises(ConfigError, match="unknown algo.advantage='gae'"):
        compose(FAST + ["algo.advantage=gae"])


def test_kirby_experiment_checks_the_rom_before_any_model(tmp_path, monkeypatch):
    monkeypatch.setenv("GB_GYM_ROM_DIR", str(tmp_path / "roms"))
    cfg = compose(["+exp=kirby", f"out_dir={tmp_path / 'k'}"])
    assert cfg.model.path == "qwen3-vl-8b" and cfg.rl.max_turns == 400
    from gb_gym.roms import RomNotFoundError

    with pytest.raises(RomNotFoundError, match="gb-gym roms import"):
        train(cfg)


def test_kirby_experiment_with_a_rom_but_no_weights_says_how_to_get_them(tmp_path, monkeypatch):
    from gb_gym.roms import BANK_SIZE
    from vlm_rl.models import ModelNotAvailableError

    rom = bytearray(2 * BANK_SIZE)  # a stand-in with Kirby's header, never run: the model check fails first
    rom[0x134:0x143] = b"KIRBY DREAM LAN"
    rom[0x14D] = (-sum(rom[0x134:0x14D]) - 25) & 0xFF
    (tmp_path / "roms").mkdir()
    (tmp_path / "roms" / "kirby_dream_land.gb").write_bytes(bytes(rom))
    monkeypatch.setenv("GB_GYM_ROM_DIR", str(tmp_path / "roms"))
    cfg = compose(["+exp=kirby", f"out_dir={tmp_path / 'k'}"])
    with pytest.warns(UserWarning, match="unknown SHA-256"), pytest.raises(ModelNotAvailableError) as e:
        train(cfg)
    assert "Qwen/Qwen3-VL-8B-Instruct" in str(e.value) and "hf download" in str(e.value)
    assert not (tmp_path / "k" / "data").exists()  # nothing ran


def _train_cmd(out: Path, extra=()) -> list[str]:
    return [sys.executable, "-m", "vlm_rl.train", *FAST, f"out_dir={out}", "rl.steps=4", *extra]


def test_a_run_killed_mid_way_resumes_with_nothing_lost(tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_train_cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    latest = out / "rl" / "ckpt" / "latest"
    while time.time() < deadline and not (latest.is_file() and latest.read_text().strip() >= "step_000002"):
        time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
    proc.kill()
    proc.wait()
    killed_at = int(latest.read_text().strip().split("_")[1])
    assert 2 <= killed_at < 4
    res = subprocess.run(_train_cmd(out, ["resume=true"]), env=env, capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"resumed from {out / 'rl' / 'ckpt'}" in res.stdout + res.stderr
    steps = [r["step"] for r in read_metrics(out / "rl" / "metrics.jsonl")]
    # steps up to the checkpoint are kept, later ones are redone; every step is there once at the end
    assert sorted(set(steps)) == [1, 2, 3, 4] and steps[:killed_at] == list(range(1, killed_at + 1))
    assert json.loads((out / "rl" / "DONE.json").read_text())["steps"] == 4
    assert (out / "eval" / "results.md").is_file()


def test_a_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path):
    from vlm_rl.checkpoint import CheckpointError, find_checkpoint, save_checkpoint

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()

    def save_policy(p):
        p.mkdir()
        (p / "weights.bin").write_bytes(b"x")

    for step in (1, 2):
        save_checkpoint(tmp_path, step, save_policy_fn=save_policy, optimizers={"actor": opt})
    (tmp_path / "step_000002" / "trainer.safetensors").write_bytes(b"not safetensors")
    path, tensors, meta = find_checkpoint(tmp_path)
    assert path.name == "step_000001" and meta["step"] == 1
    (tmp_path / "step_000001" / "trainer.json").write_text("{")
    with pytest.raises(CheckpointError, match="no readable checkpoint.*step_000002 is damaged"):
        find_checkpoint(tmp_path)
