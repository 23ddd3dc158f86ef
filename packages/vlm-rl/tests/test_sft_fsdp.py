"""SFT on every process of a launch, against one plain process on the same batches (the same losses and
the same trained weights): two FSDP processes, each on half of every batch, for full fine-tuning, and for
LoRA in batches of 1 frame (process 1 only pads, with zero-weight passes); two unsharded processes summing
their gradients by hand. Each two-process stage, resumed from its own last checkpoint, ends with the
weights of the run that went on (see sft_fsdp_worker.py)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vlm_rl.cli import compose
from vlm_rl.metrics import read_metrics
from vlm_rl.train import train

from . import sft_fsdp_worker
from .test_fsdp import FSDP_YAML

pytestmark = pytest.mark.slow  # ~80 CPU-seconds, most of it two sharded processes over gloo

# LoRA in batches of 1 frame, 10 per step: process 1 never has a share and runs zero-weight passes
MODES = {"full": [], "lora": ["model.lora=true", "model.full_finetune=false", "sft.epochs=1", "sft.batch_size=1",
                              "sft.grad_accum=10"]}
# the two-process runs: (the one-process run to match, sharded or not)
TWO = {"full": ("full", "sharded"), "lora": ("lora", "sharded"), "full-plain": ("full", "plain")}
ANNOTATE = ["annotate.frames=48", "annotate.heldout=0.25", "annotate.max_turns=8"]  # 40 training, 8 held out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft_fsdp")
    data = root / "annotated"
    train(compose(["+exp=hopland", *ANNOTATE, f"out_dir={data}", "stages=[annotate]"]))
    for mode, extra in MODES.items():
        shutil.copytree(data / "data", root / "one" / mode / "data")
        train(compose([*sft_fsdp_worker.OPTS, *extra, f"out_dir={root / 'one' / mode}"]))  # builds the tiny model
    args = []
    for name, (mode, how) in TWO.items():
        shutil.copytree(data / "data", root / "two" / name / "data")
        args.append(f"{root / 'two' / name}:{','.join(MODES[mode])}:{how}")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(FSDP_YAML),
           "--num_processes", "2", sft_fsdp_worker.__file__, *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # a deadlock shows as a timeout
    assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
    (root / "launch.log").write_text(res.stdout + res.stderr)
    return root


def test_the_fsdp_launch_sharded_only_the_runs_it_should(runs):
    log = (runs / "launch.log").read_text()
    # each process says once per training (the first and the resumed one) how it holds the model
    assert log.count("the model sharded with FSDP") == 2 * 2 * 2  # the sharded runs: full, lora
    assert log.count("a whole model, gradients summed across processes") == 2 * 2  # full-plain


def _weights(policy: Path) -> dict[str, torch.Tensor]:
    return load_file(next(policy.glob("*.safetensors")))


@pytest.mark.parametrize("name", TWO)
def test_two_processes_train_as_one_process(runs, name):
    one, two = runs / "one" / TWO[name][0] / "sft", runs / "two" / name / "sft"
    losses = [[r["sft/loss"] for r in read_metrics(d / "metrics.jsonl") if "sft/loss" in r] for d in (one, two)]
    assert len(losses[0]) == 4 and losses[0][-1] < losses[0][0]  # it learned
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)
    a, b = _weights(one / "policy"), _weights(two / "policy.first")
    assert a.keys() == b.keys() and len(a) > 2
    for k in a:  # see test_fsdp.py: Adam moves near-zero gradients by ~lr whatever the summation order
        torch.testing.assert_close(b[k], a[k], atol=1e-4, rtol=0, msg=lambda m, k=k: f"{k}: {m}")
    report = json.loads((two / "report.first.json").read_text())
    assert report["steps"] == 4 and 0 <= report["strict_rate"] <= 1


@pytest.mark.parametrize("name", TWO)
def test_a_two_process_sft_resumes_from_its_own_checkpoint(runs, name):
    sft = runs / "two" / name / "sft"
    assert [p.name for p in sorted((sft / "ckpt").glob("step_*"))] == ["step_000002", "step_000003"]
    first, resumed = _weights(sft / "policy.first"), _weights(sft / "policy")
    different = [k for k in first if not torch.equal(first[k], resumed[k])]
    assert not different, f"{len(different)} tensors differ after resuming, e.g. {different[:3]}"
    steps = [r["step"] for r in read_metrics(sft / "metrics.jsonl") if "sft/loss" in r]
    assert steps == [1, 2, 3, 4]  # the resumed run logged step 4 again in place of the first run's
