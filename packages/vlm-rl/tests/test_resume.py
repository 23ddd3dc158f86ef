"""Exact resume: RL killed at a random step and resumed ends with the very weights of an uninterrupted run."""

import os
import random
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from vlm_rl.metrics import read_metrics

from .test_train import FAST

STEPS = 4


def _cmd(out, *extra):
    return [sys.executable, "-m", "vlm_rl.train", *FAST, f"out_dir={out}", f"rl.steps={STEPS}",
            "stages=[annotate,sft,rl]", *extra]


def _weights(out):
    return load_file(next((out / "rl" / "policy").glob("*.safetensors")))


@pytest.mark.slow
def test_rl_killed_at_a_random_step_resumes_bit_identically(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole = tmp_path / "whole"
    subprocess.run(_cmd(whole), env=env, check=True, capture_output=True, timeout=600)

    out = tmp_path / "killed"
    kill_after = random.Random().randint(1, STEPS - 1)  # a random step, as a kill would be
    proc = subprocess.Popen(_cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = out / "rl" / "ckpt" / "latest"
    deadline = time.time() + 400
    while not (latest.is_file() and latest.read_text().strip() >= f"step_{kill_after:06d}"):
        assert time.time() < deadline and proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    res = subprocess.run(_cmd(out, "resume=true"), env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]

    a, b = _weights(whole), _weights(out)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"killed after step {kill_after}: {len(different)} tensors differ, e.g. {different[:3]}"
    steps = [r["step"] for r in read_metrics(out / "rl" / "metrics.jsonl")]
    assert steps == list(range(1, STEPS + 1))  # no duplicate rows after the resume
    rows_whole = read_metrics(whole / "rl" / "metrics.jsonl")
    rows_out = read_metrics(out / "rl" / "metrics.jsonl")
    drop = ("time/",)
    for x, y in zip(rows_whole, rows_out, strict=True):
        assert {k: v for k, v in x.items() if not k.startswith(drop)} == {
            k: v for k, v in y.items() if not k.startswith(drop)}
