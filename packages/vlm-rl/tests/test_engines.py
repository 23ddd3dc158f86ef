"""Rollout engines: the non-lock-step env pool, the log-prob gap metric, and vLLM following the policy's weights.

The `vllm`-marked tests need vLLM, which lives in a second environment (its pins clash with this one's):
`sh tests/vllm_env.sh` builds it and runs them; here they skip.
"""

import importlib.util

import gymnasium as gym
import numpy as np
import pytest
import torch

import gb_gym  # noqa: F401
from vlm_rl.cli import compose
from vlm_rl.config import ConfigError
from vlm_rl.engines import HFEngine, logprob_gap
from vlm_rl.models import load_policy
from vlm_rl.models.actor import VLMActor
from vlm_rl.rollout import Job, run_episodes

HAS_VLLM = importlib.util.find_spec("vllm") is not None
needs_vllm = pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed here: sh tests/vllm_env.sh runs these")
# vLLM's Qwen3-VL imports torchvision, which on CPU works only with PyPI's CUDA torch (docs/scaling.md)
QWEN = pytest.param("tiny-qwen3-vl", marks=pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is None,
    reason="vLLM's Qwen3-VL needs torchvision: the CUDA-torch environment of docs/scaling.md"))


def _frames(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (144, 160, 3), dtype=np.uint8) for _ in range(n)]


class Staggered:
    """A streaming policy whose env 1 answers only every third poll while env 0 answers at every poll."""

    def __init__(self):
        self.pending, self.polls, self.answered = {}, 0, []

    def submit(self, key, frame, info):
        self.pending[key] = self.polls

    def poll(self):
        self.polls += 1
        ready = sorted(k for k, since in self.pending.items() if k == 0 or self.polls - since >= 3)
        for k in ready:
            del self.pending[k]
        self.answered.append(ready)
        return [(k, (["right"], None)) for k in ready]


def test_the_pool_steps_each_env_as_soon_as_its_answer_is_ready():
    envs = [gym.make("GB/Hopland-v0", actions="buttons", max_episode_steps=10**6) for _ in range(2)]
    policy = Staggered()
    eps = run_episodes(envs, policy, [Job("1", s) for s in range(3)], max_turns=4)
    # env 0 plays three turns while env 1 waits for its first answer, then takes the next job at once
    assert policy.answered[:3] == [[0], [0], [0, 1]]
    assert [ep.n_turns for ep in eps] == [4, 4, 4] and [ep.job.seed for ep in eps] == [0, 1, 2]
    assert sum(1 in a for a in policy.answered) == 4  # env 1 played only job 1; env 0 played jobs 0 and 2
    for e in envs:
        e.close()


def test_logprob_gap_is_zero_for_the_actors_own_samples_and_reports_a_corruption():
    model, processor = load_policy("tiny", lora=False)
    actor = VLMActor(model, processor, "hopland", max_new_tokens=12)
    engine = HFEngine(actor)
    for k, f in enumerate(_frames(3)):
        engine.submit(k, f)
    turns = [t for _, t in engine.poll()]
    assert len(turns) == 3 and not engine.pending
    gap = logprob_gap(actor, turns)
    assert gap["logprob_gap_max"] < 1e-4, gap
    turns[1].logprobs = turns[1].logprobs.clone()
    turns[1].logprobs[2] += 0.5
    gap = logprob_gap(actor, turns)
    assert abs(gap["logprob_gap_max"] - 0.5) < 1e-3 and abs(gap["seq_logprob_gap_max"] - 0.5) < 1e-3


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_the_vllm_engine_without_vllm_says_how_to_install_it(tmp_path):
    with pytest.raises(ConfigError, match=r"rollout.engine=vllm but vLLM is not installed: pip install"):
        compose(["+exp=hopland", f"out_dir={tmp_path}", "rollout.engine=vllm"])


# ---- vLLM (second environment) ---------------------------------------------------------------------


def _rollout(engine, frames):
    for k, f in enumerate(frames):
        engine.submit(k, f)
    turns = {}
    while engine.pending:
        turns.update(engine.poll())
    return [turns[k] for k in range(len(frames))]


def _update(actor, turns, lr):
    """One AdamW step raising the log-probs of the sampled turns: a real actor update."""
    params = [p for p in actor.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    b = actor.collate(turns)
    loss = -(actor.logprobs(b) * b.response_mask).sum() / b.response_mask.sum()
    loss.backward()
    opt.step()


@needs_vllm
@pytest.mark.vllm
@pytest.mark.parametrize("lora", [True, False], ids=["lora", "full"])
@pytest.mark.parametrize("preset", ["tiny", QWEN])
def test_vllm_follows_the_policy_after_an_update(preset, lora):
    from vlm_rl.config import VLLMCfg
    from vlm_rl.engines.vllm import VLLMEngine
    from vlm_rl.models.load import resolve_model

    torch.manual_seed(0)
    base = resolve_model(preset)
    model, processor = load_policy(base, lora=lora, full_finetune=not lora)
    actor = VLMActor(model, processor, "hopland", max_new_tokens=16)
    engine = VLLMEngine(actor, base, VLLMCfg(), lora=lora, seed=0)
    try:
        frames = _frames(4)
        turns = _rollout(engine, frames)  # collate (in logprob_gap) checks the prompt ids against the processor's
        assert logprob_gap(actor, turns)["logprob_gap_max"] < 1e-4
        _update(actor, turns, lr=0.05 if lora else 0.01)
        stale = logprob_gap(actor, turns)["logprob_gap_max"]
        assert stale > 0.05, f"the update hardly moved the policy ({stale})"
        engine.sync_weights()
        fresh = _rollout(engine, frames)  # sampled from the synced weights; vLLM's caches must not serve old ones
        gap = logprob_gap(actor, fresh)
        assert gap["logprob_gap_max"] < 1e-4, gap
        if lora:
            assert engine.lora_request.lora_int_id == 2  # a fresh adapter id per sync
    finally:
        engine.close()


@needs_vllm
@pytest.mark.vllm
def test_rl_with_the_vllm_engine_changes_the_policy_and_logs_the_gap(tmp_path):
    from vlm_rl.metrics import read_metrics
    from vlm_rl.stages.rl import Trainer, digest

    cfg = compose(["+exp=hopland", f"out_dir={tmp_path}", "stages=[rl]", "rl.init=base", "rollout.engine=vllm",
                   "env.levels=[1]", "env.max_turns=4", "rl.steps=2", "rl.trajectories=4", "rl.envs=4",
                   "rl.max_new_tokens=24", "rl.minibatch_size=8", "rl.micro_batch_size=8",
                   "rl.critic.warmup_steps=0", "algo=ppo", "rl.lr=1e-3"])
    trainer = Trainer(cfg, None)
    before = digest(trainer.actor_update.params)
    trainer.run()
    assert digest(trainer.actor_update.params) != before
    rows = read_metrics(tmp_path / "rl" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2] and all(r["actor/updated"] == 1.0 for r in rows)
    # step 2 was sampled by vLLM after the step-1 update: its log-probs are the updated policy's
    assert all(r["rollout/logprob_gap_max"] < 1e-3 for r in rows), [r["rollout/logprob_gap_max"] for r in rows]
