"""The training loop under `accelerate launch` with 2 CPU processes: each plays its own envs,
gradients are averaged, rank 0 writes, and both replicas end with the same weights."""

import json
import re
import subprocess
import sys

from vlm_rl.metrics import read_metrics

from .test_train import FAST


def test_two_processes_train_in_sync(tmp_path):
    out = tmp_path / "ddp"
    # --multi_gpu selects accelerate's multi-process launcher; with no GPU the processes train on the CPU
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "vlm_rl.train",
           *FAST, f"out_dir={out}", "device=cpu"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    digests = dict(re.findall(r"rl: process (\d)/2 parameter digest (\w+)", log))
    assert set(digests) == {"0", "1"}, log[-2000:]
    assert digests["0"] == digests["1"], "the two replicas ended with different weights"
    rows = read_metrics(out / "rl" / "metrics.jsonl")  # written by rank 0 only: one line per step
    assert [r["step"] for r in rows] == [1, 2]
    # samples count both processes' turns: more than one process's 4 trajectories x 6 turns could give
    assert rows[-1]["samples"] > 4 * 6
    assert json.loads((out / "rl" / "DONE.json").read_text())["steps"] == 2
    assert (out / "eval" / "results.json").is_file()
