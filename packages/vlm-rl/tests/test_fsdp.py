"""Sharded training (FSDP2 over gloo, 2 CPU processes) against one plain process, on the same batch of turns:
the same losses (the policy's and the perception term's) and the same updated weights, for full fine-tuning and
LoRA; and a sharded run resumed from
its own checkpoint ends with the very weights of the run that went on (see fsdp_worker.py); the RL trainer
under FSDP, killed and resumed."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from vlm_rl.metrics import read_metrics
from vlm_rl.models.tiny import ensure_tiny_model

from . import fsdp_worker
from .test_train import FAST

FSDP_YAML = Path(fsdp_worker.__file__).parents[1] / "src" / "vlm_rl" / "conf" / "accelerate" / "fsdp.yaml"
MODES = ("full", "lora")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    ensure_tiny_model("idefics3")  # built once here, not by two processes at the same time
    root = tmp_path_factory.mktemp("fsdp")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(FSDP_YAML),
           "--num_processes", "2", fsdp_worker.__file__, str(root / "two"), *MODES]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    for mode in MODES:
        fsdp_worker.run(root / "one", mode)
    return root


def _load(root: Path, mode: str, name: str) -> dict[str, torch.Tensor]:
    return load_file(root / mode / f"{name}.safetensors")


@pytest.mark.parametrize("mode", MODES)
def test_two_sharded_processes_match_one_plain_process(runs, mode):
    one, two = json.loads((runs / "one" / mode / "first.json").read_text()), json.loads(
        (runs / "two" / mode / "first.json").read_text())
    assert one["pg_loss"] == pytest.approx(two["pg_loss"], rel=1e-5, abs=1e-7)
    assert one["perception_nll"] == pytest.approx(two["perception_nll"], rel=1e-5) and one["perception_nll"] > 0
    # the norm of every process's gradients together, clipped to 0.5 in both runs
    assert one["grad_norm"] == pytest.approx(two["grad_norm"], rel=1e-5) and one["grad_norm"] > 0.5
    for name in ("first", "second"):
        a, b = _load(runs / "one", mode, name), _load(runs / "two", mode, name)
        assert a.keys() == b.keys() and len(a) > 10
        # Adam's first steps move each weight by about lr (1e-3) whatever its gradient's size, so the few
        # near-zero gradients that summation order changes in the last bits move by up to ~3e-5 here
        for k in a:
            torch.testing.assert_close(b[k], a[k], atol=1e-4, rtol=0, msg=lambda m, k=k: f"{k}: {m}")
    first, second = _load(runs / "two", mode, "first"), _load(runs / "two", mode, "second")
    moved = max(float((second[k] - first[k]).abs().max()) for k in first)
    assert moved > 5e-4, f"the second update barely moved the weights ({moved})"


@pytest.mark.parametrize("mode", MODES)
def test_sharded_run_resumes_from_its_own_checkpoint(runs, mode):
    ckpt = runs / "two" / mode / "ckpt" / "step_000001"
    assert (ckpt / "trainer.safetensors").is_file() and any((ckpt / "policy").glob("*.safetensors"))
    second, resumed = _load(runs / "two", mode, "second"), _load(runs / "two", mode, "resumed")
    different = [k for k in second if not torch.equal(second[k], resumed[k])]
    assert not different, f"{len(different)} tensors differ after resuming, e.g. {different[:3]}"


@pytest.mark.slow
def test_sharded_rl_run_killed_after_a_checkpoint_resumes(tmp_path):
    """The trainer itself under FSDP: killed after its step-1 checkpoint, resumed, both processes end in sync."""
    ensure_tiny_model("idefics3")  # rl.init=base: built here, not by both processes at once
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(FSDP_YAML), "--num_processes",
           "2", "-m", "vlm_rl.train", *FAST, f"out_dir={out}", "device=cpu", "stages=[rl]", "rl.init=base",
           "rl.steps=2", "rl.trajectories=2", "rl.envs=2", "rl.max_new_tokens=16", "env.max_turns=4"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest, deadline = out / "rl" / "ckpt" / "latest", time.time() + 400
    while not (latest.is_file() and latest.read_text().strip() == "step_000001"):
        assert time.time() < deadline and proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.05)
    workers = psutil.Process(proc.pid).children(recursive=True)  # torchrun's workers have their own sessions
    for p in [psutil.Process(proc.pid), *workers]:
        p.kill()
    psutil.wait_procs(workers, timeout=30)
    proc.wait()
    assert not (out / "rl" / "DONE.json").exists()

    res = subprocess.run([*cmd, "resume=true"], env=env, capture_output=True, text=True, timeout=600)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert log.count("rl: resumed from") == 2 and "at step 1" in log  # both processes, from the checkpoint
    digests = dict(re.findall(r"rl: process (\d)/2 parameter digest (\w+)", log))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"], log[-2000:]
    assert [r["step"] for r in read_metrics(out / "rl" / "metrics.jsonl")] == [1, 2]
    resumed, final = _policy(out / "rl" / "ckpt" / "step_000001" / "policy"), _policy(out / "rl" / "policy")
    assert max(float((final[k] - resumed[k]).abs().max()) for k in final) > 0  # step 2 trained on from there


def _policy(path: Path) -> dict[str, torch.Tensor]:
    return load_file(next(path.glob("*.safetensors")))


def test_a_sharded_launch_this_code_cannot_run_is_refused(monkeypatch):
    from vlm_rl.config import ConfigError, ModelCfg
    from vlm_rl.sharding import check_launch

    check_launch(ModelCfg(load_in_4bit=True))  # not launched with the FSDP config: nothing to refuse
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "1")
    with pytest.raises(ConfigError, match="fsdp_version: 2"):
        check_launch(ModelCfg())
    monkeypatch.setenv("FSDP_VERSION", "2")
    check_launch(ModelCfg())
    with pytest.raises(ConfigError, match="load_in_4bit"):
        check_launch(ModelCfg(load_in_4bit=True))
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")
    with pytest.raises(ConfigError, match="no or bf16"):
        check_launch(ModelCfg())
