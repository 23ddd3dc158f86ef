"""rl.perception_coef: RL also learns the RAM teacher's `<perception>` of the frames it visits.

The targets (the teacher's perception span under the frame's prompt, no stop token), the actor update with
the term on against the same update with it off (same weights, batch and seeds), and the trainer's log."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from gb_gym.spec import Enemy, Scene
from vlm_rl.algos import get_loss_entry
from vlm_rl.cli import compose
from vlm_rl.config import AlgoCfg, EnvCfg, ModelCfg, RLCfg
from vlm_rl.dist import Dist
from vlm_rl.envs import make_env
from vlm_rl.metrics import read_metrics
from vlm_rl.models.policy import load_model, make_actor
from vlm_rl.rollout import Job, flatten, run_episodes
from vlm_rl.stages.teachers import RamTeacher
from vlm_rl.train import train
from vlm_rl.update import ActorUpdate, perception_turns

from .test_train import FAST

RL = RLCfg(lr=1e-3, minibatch_size=8, micro_batch_size=4, max_new_tokens=16, perception_frames=8)
SCENE = Scene(game="hopland", level="1", lives=3, x_progress=0, player_y=104, on_ground=True,
              enemies=(Enemy(dx=40, dy=0),), terrain=(2, 2, 0, 0, 0, 0, 2))


@pytest.fixture(scope="module")
def actor():
    torch.manual_seed(0)
    model, processor, _ = load_model(ModelCfg(), "cpu")
    return make_actor(model, processor, "hopland", ModelCfg(), RL)


@pytest.fixture(scope="module")
def batch(actor):
    """Eight turns of the actor on frames of two real episodes (random buttons, so the frames differ)."""
    rng = np.random.default_rng(0)
    buttons = [["right"], ["a", "right"], ["b", "right"], []]

    def policy(frames, infos):
        return [(buttons[rng.integers(len(buttons))], turn) for turn in actor.act(frames)]

    envs = [make_env(EnvCfg(levels=["1"]), ram_info=True) for _ in range(2)]
    torch.manual_seed(1)
    episodes = run_episodes(envs, policy, [Job("1", seed=0), Job("1", seed=1)], max_turns=4)
    for env in envs:
        env.close()
    return flatten(episodes)


def test_the_target_is_the_teachers_perception_span_and_only_it_is_scored(actor):
    span = "<perception>on ground. wide pit near. enemy ahead.</perception>"
    assert RamTeacher().annotate(SCENE, ("a", "right")).text.startswith(span)
    frame = np.zeros((144, 160, 3), np.uint8)
    short = replace(SCENE, on_ground=False, enemies=(), terrain=(2, 2))
    turns = perception_turns(actor, [frame, frame], [SCENE, short])
    ids = turns[0].response_ids
    assert actor.tokenizer.decode(ids) == actor.response_prefix + span  # every token of it, nothing else
    assert not set(ids.tolist()) & set(actor.stop_ids)  # no stop token: the answer goes on after it
    assert actor.tokenizer.decode(turns[1].response_ids) == actor.response_prefix + (
        "<perception>in air. no hazard. no enemy.</perception>")
    # with a longer row beside it (a sampled answer), a target's padding is masked out
    longer = actor.teacher_turns([frame], [span + "<reasoning>clear: run right</reasoning>"], stop=False)
    b = actor.collate([*turns, *longer])
    assert b.response_mask.sum(1).tolist() == [len(t.response_ids) for t in (*turns, *longer)]
    assert len(turns[1].response_ids) < len(longer[0].response_ids)
    assert torch.equal(b.response_ids[1][b.response_mask[1]], turns[1].response_ids)


@torch.no_grad()
def _perception_nll(actor, batch) -> float:
    """Mean per-token NLL of the teacher's perception of every visited frame."""
    b = actor.collate(perception_turns(actor, [t.frames for t in batch.turns], batch.scenes))
    return float(-(actor.logprobs(b) * b.response_mask).sum() / b.response_mask.sum())


def _two_updates(actor, batch, coef: float) -> tuple[float, list[dict]]:
    start = {k: v.clone() for k, v in actor.model.state_dict().items()}
    torch.manual_seed(2)
    rl = RLCfg(**{**RL.__dict__, "perception_coef": coef})
    update = ActorUpdate(actor, rl, AlgoCfg(), get_loss_entry("ppo_clip"), Dist(cpu=True))
    adv = torch.randn(len(batch), generator=torch.Generator().manual_seed(3))
    keep = torch.ones(len(batch), dtype=torch.bool)
    metrics = [update.update(batch, adv, keep, step=s) for s in (1, 2)]
    nll = _perception_nll(actor, batch)
    actor.model.load_state_dict(start)
    return nll, metrics


def test_the_perception_loss_lowers_the_teachers_perception_nll_on_visited_frames(actor, batch):
    assert len(batch) == 8 and all(s is not None for s in batch.scenes)
    before = _perception_nll(actor, batch)
    off, m_off = _two_updates(actor, batch, 0.0)
    on, m_on = _two_updates(actor, batch, 1.0)
    print(f"teacher-perception NLL per token: before {before:.3f}, off {off:.3f}, on {on:.3f}")
    assert on < off - 0.5 and on < before - 0.5, (before, off, on)
    assert all("perception_nll" not in m for m in m_off)
    for m in m_on:  # the term's metrics, next to the policy loss's
        assert m["perception_loss"] == pytest.approx(1.0 * m["perception_nll"]) and "pg_loss" in m
    assert m_on[1]["perception_nll"] < m_on[0]["perception_nll"]


def test_a_batch_without_scenes_is_refused(actor, batch):
    rl = RLCfg(**{**RL.__dict__, "perception_coef": 1.0})
    update = ActorUpdate(actor, rl, AlgoCfg(), get_loss_entry("ppo_clip"), Dist(cpu=True))
    bare = replace(batch, scenes=[None] * len(batch))
    with pytest.raises(ValueError, match="no turn of this batch carries the RAM's scene.*perception_coef=0"):
        update.update(bare, torch.zeros(len(batch)), torch.ones(len(batch), dtype=torch.bool))


@pytest.mark.parametrize("algo", ["ppo", "grpo_outcome", "reinforce_pp"])  # each keeps every turn: always updates
def test_the_trainer_adds_and_logs_the_perception_loss_every_step_for_every_algorithm(tmp_path, algo):
    cfg = compose([*FAST, f"algo={algo}", f"out_dir={tmp_path}", "stages=[rl]", "rl.init=base",
                   "rl.critic.warmup_steps=0", "rl.max_new_tokens=16", "env.max_turns=3", "rl.perception_coef=0.5",
                   "rl.perception_frames=4", "rollout.mismatch_turns=0"])
    train(cfg)
    rows = read_metrics(tmp_path / "rl" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2] and all(r["actor/updated"] == 1 for r in rows)
    for r in rows:
        assert r["actor/perception_nll"] > 0 and r["actor/perception_loss"] == pytest.approx(
            0.5 * r["actor/perception_nll"])
    assert rows[1]["actor/perception_nll"] < rows[0]["actor/perception_nll"]


def test_with_no_kept_turn_the_perception_term_still_steps(actor, batch):
    """Positive-advantage filtering can keep nothing; the perception term learns from every visited frame."""
    start = {k: v.clone() for k, v in actor.model.state_dict().items()}
    rl = RLCfg(**{**RL.__dict__, "perception_coef": 1.0})
    update = ActorUpdate(actor, rl, AlgoCfg(), get_loss_entry("ppo_clip"), Dist(cpu=True))
    metrics = update.update(batch, torch.zeros(len(batch)), torch.zeros(len(batch), dtype=torch.bool), step=1)
    assert metrics["perception_nll"] > 0 and "pg_loss" not in metrics
    changed = sum(not torch.equal(v, actor.model.state_dict()[k]) for k, v in start.items())
    actor.model.load_state_dict(start)
    assert changed > len(start) // 2, f"only {changed} of {len(start)} tensors changed"
