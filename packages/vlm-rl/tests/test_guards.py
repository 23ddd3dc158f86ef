"""Divergence stops training at once and nothing non-finite is saved; logs count non-finite values."""

import math

import pytest
import torch

from vlm_rl.cli import compose
from vlm_rl.guards import DivergenceError, check_finite, nonfinite_parameters
from vlm_rl.metrics import MetricLogger, read_metrics
from vlm_rl.models.policy import save_policy
from vlm_rl.train import train

from .test_train import FAST


def test_check_finite_names_the_place_and_the_cause():
    check_finite("loss", torch.tensor(1.5), "rl step 3", "rl.lr too high")
    with pytest.raises(DivergenceError, match=r"rl step 3: the loss is nan.*Likely cause: rl.lr too high"):
        check_finite("loss", torch.tensor(math.nan), "rl step 3", "rl.lr too high")
    with pytest.raises(DivergenceError, match="is inf"):
        check_finite("gradient norm", math.inf, "sft step 1", "x")


def test_a_policy_with_a_nan_weight_is_never_saved(tmp_path):
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 1] = math.nan
    assert nonfinite_parameters(model.named_parameters()) == ["weight"]
    with pytest.raises(DivergenceError, match="1 weight tensors hold NaN or inf"):
        save_policy(model, None, tmp_path / "policy", "base")
    assert not any(tmp_path.iterdir())


def test_metrics_count_non_finite_values_and_a_resume_leaves_no_duplicates(tmp_path):
    log = MetricLogger(tmp_path)
    for step in (1, 2, 3):
        log.log(step, {"loss": 1.0 / step, "ev": math.nan if step == 2 else 0.5})
    log.close()
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert rows[1] == {"step": 2, "loss": 0.5, "nonfinite": ["ev"]}
    log = MetricLogger(tmp_path, resume_step=2)  # resumed from the step-2 checkpoint: step 3 is redone
    log.log(3, {"loss": 0.25})
    log.close()
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 3]
    assert read_metrics(tmp_path / "metrics.jsonl")[-1]["loss"] == 0.25


def test_sft_that_diverges_stops_with_the_step_and_saves_nothing(tmp_path):
    cfg = compose(FAST + [f"out_dir={tmp_path}", "stages=[annotate,sft]", "sft.lr=1e20", "sft.warmup_ratio=0"])
    with pytest.raises(DivergenceError, match=r"sft step \d+: the (loss|gradient norm) is (nan|inf).*sft.lr=1e\+20"):
        train(cfg)
    assert not (tmp_path / "sft" / "policy").exists()
    for ckpt in (tmp_path / "sft" / "ckpt").glob("step_*/policy"):
        from safetensors.torch import load_file

        weights = load_file(next(ckpt.glob("*.safetensors")))
        assert all(bool(torch.isfinite(w).all()) for w in weights.values())
