"""SB3 PPO CnnPolicy on the same envs: a short run trains, evaluates on schedule and writes vlm-rl's curve format."""

import json

import pytest
import torch

import vlm_rl.baselines.sb3 as sb3
from vlm_rl.cli import compose
from vlm_rl.envs import make_env
from vlm_rl.report.curves import read_curves
from vlm_rl.report.stats import mean_se

EVAL_SEED = 1234  # torch seed for SB3's stochastic predict at every evaluation
OVERRIDES = [
    "+exp=sb3_cpu", "actions=original", "total_samples=256", "n_envs=2", "subproc=false", "ppo.batch_size=128",
    "ppo.minibatch_size=64", "ppo.epochs=1", "eval.every=128", "eval.episodes=2", "eval.envs=2",
    "env.max_turns=10", "device=cpu",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 256-sample run; every evaluation's per-level values recorded, torch seeded before each one (SB3's
    predict samples from torch's global generator), so the saved model can be evaluated again on the same
    stream."""
    out = tmp_path_factory.mktemp("sb3")
    cfg = compose(OVERRIDES + [f"out_dir={out}"], config_name="sb3")
    real_evaluate = sb3.evaluate_sb3
    evaluations = []

    def seeded_evaluate(model, envs, levels, episodes, seed, max_turns):
        torch.manual_seed(EVAL_SEED)
        res = real_evaluate(model, envs, levels, episodes, seed, max_turns)
        evaluations.append((model.num_timesteps, res))
        return res

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sb3, "evaluate_sb3", seeded_evaluate)
        sb3.train_sb3(cfg)
    return out, cfg, evaluations


def _evaluate_saved(out, cfg) -> dict[str, list[float]]:
    from stable_baselines3 import PPO

    model = PPO.load(out / "model.zip", device="cpu")
    envs = [make_env(cfg.env, actions="original") for _ in range(cfg.eval.envs)]  # the same batching
    try:
        torch.manual_seed(EVAL_SEED)
        return sb3.evaluate_sb3(model, envs, ["1", "2"], cfg.eval.episodes, cfg.eval.seed, cfg.eval.max_turns)
    finally:
        for env in envs:
            env.close()


def test_short_sb3_run_writes_curves_and_a_model(run):
    out, _, evaluations = run
    rows = read_curves([out / "curve.jsonl"])
    assert {r["method"] for r in rows} == {"sb3_ppo_original"} and {r["seed"] for r in rows} == {0}
    # 2 envs × 64 steps per rollout: evaluations at the start, at 128 and at 256 samples (the one after
    # learn() is skipped: the same sample count); each writes one row per level, in level order
    assert [(r["samples"], r["level"]) for r in rows] == [(0, "1"), (0, "2"), (128, "1"), (128, "2"),
                                                          (256, "1"), (256, "2")]
    assert [n for n, _ in evaluations] == [0, 128, 256]
    # every row is mean ± se of the values its evaluation returned: 2 episodes of whole x-progress each
    for row in rows:
        values = dict(evaluations)[row["samples"]][row["level"]]
        assert len(values) == 2 and all(v >= 0 and v == int(v) for v in values), values
        s = mean_se(values)
        assert (row["mean"], row["se"], row["n"]) == (s.mean, s.se, 2)
    assert json.loads((out / "DONE.json").read_text()) == {"samples": 256, "method": "sb3_ppo_original"}
    assert (out / "model.zip").is_file()


def test_evaluating_the_saved_model_is_reproducible(run):
    # the same jobs (levels, seeds) and the same torch stream give the same episodes, on fresh envs
    out, cfg, _ = run
    first, second = _evaluate_saved(out, cfg), _evaluate_saved(out, cfg)
    assert first == second
    assert set(first) == {"1", "2"} and all(len(v) == 2 and all(x >= 0 and x == int(x) for x in v)
                                            for v in first.values())


def test_the_last_curve_rows_are_the_saved_model(run):
    out, cfg, evaluations = run
    again = _evaluate_saved(out, cfg)
    assert again == evaluations[-1][1]
    for row in read_curves([out / "curve.jsonl"])[-2:]:
        s = mean_se(again[row["level"]])
        assert (row["mean"], row["se"]) == (s.mean, s.se)
