"""SB3 PPO CnnPolicy on the same envs: a short run trains, evaluates on schedule and writes vlm-rl's curve format."""

import json

from vlm_rl.cli import compose
from vlm_rl.curves import read_curves
from vlm_rl.sb3_baseline import train_sb3


def test_short_sb3_run_writes_curves_and_a_model(tmp_path):
    cfg = compose([
        "+exp=sb3_cpu", f"out_dir={tmp_path}", "actions=original", "total_samples=256", "n_envs=2",
        "subproc=false", "ppo.batch_size=128", "ppo.minibatch_size=64", "ppo.epochs=1", "eval.every=128",
        "eval.episodes=2", "eval.envs=2", "env.max_turns=10", "device=cpu",
    ], config_name="sb3")
    train_sb3(cfg)
    rows = read_curves([tmp_path / "curve.jsonl"])
    assert {r["method"] for r in rows} == {"sb3_ppo_original"}
    assert {r["level"] for r in rows} == {"1", "2"}
    samples = sorted({r["samples"] for r in rows})
    assert samples[0] == 0 and samples[-1] >= 256 and len(samples) >= 3  # before, during and after training
    assert len(rows) == 2 * len(samples)  # one evaluation per sample count, two levels each
    assert all(r["n"] == 2 and r["mean"] >= 0 for r in rows)
    assert (tmp_path / "model.zip").is_file()
    assert json.loads((tmp_path / "DONE.json").read_text())["samples"] >= 256
