"""Actor updates on one fixed batch, run by test_fsdp.py: in the test's own process (one plain process) or
under `accelerate launch --config_file .../accelerate/fsdp.yaml` (sharded over 2 processes, each with its
own share of the turns). For each of full fine-tuning and LoRA it writes, under OUT/MODE/:
  first.safetensors / first.json    the trainable weights and the metrics after the first update
  second.safetensors                after a second update
  resumed.safetensors               after the same second update run from the checkpoint of the first

    python fsdp_worker.py OUT full lora
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from safetensors.torch import save_file

from gb_gym.spec import Enemy, Scene
from vlm_rl.algos import get_loss_entry
from vlm_rl.checkpoint import find_checkpoint, restore, save_checkpoint
from vlm_rl.config import AlgoCfg, ModelCfg, RLCfg
from vlm_rl.dist import Dist
from vlm_rl.models.policy import load_model, make_actor, save_policy
from vlm_rl.sharding import WholeOptimizer, fsdp_launched, full_params, full_state_dict, shard
from vlm_rl.update import ActorUpdate

TURNS = 6
SPLIT = 4  # process 0 of 2 holds turns 0-3, process 1 turns 4-5: 2 and 1 micro-batches of 2 (one padded)
# one optimizer step per update over every process's turns, clipped; the RAM teacher's perception of every
# turn's frame learnt alongside (each process supervises its own frames: all 6 either way), weighted so that
# its gradient is about the policy loss's size (the norm is ~1.2-1.8 without it)
RL = RLCfg(lr=1e-3, max_grad_norm=0.5, minibatch_size=TURNS, micro_batch_size=2, max_new_tokens=8,
           perception_coef=0.1, perception_frames=TURNS)
SCENES = [Scene(game="hopland", level="1", lives=3, x_progress=0, player_y=104, on_ground=i % 2 == 0,
                enemies=(Enemy(dx=8 * i, dy=0),) if i % 3 == 0 else (), terrain=(2,) * i + (0, 0, 2))
          for i in range(TURNS)]


def _build(dist: Dist, mcfg: ModelCfg, checkpoint: Path | None = None):
    torch.manual_seed(0)  # the same LoRA initialisation everywhere
    model, processor, base = load_model(mcfg, "cpu", checkpoint=checkpoint)
    if fsdp_launched():
        shard(model, "cpu", dist.world)
    actor = make_actor(model, processor, "hopland", mcfg, RL)
    update = ActorUpdate(actor, RL, AlgoCfg(), get_loss_entry("ppo_clip"), dist)
    whole = WholeOptimizer(model, update.optimizer) if update.sharded else update.optimizer
    return actor, update, whole, base


def _weights(actor) -> dict[str, torch.Tensor]:
    with full_params(actor.model):
        return {n: p.detach().clone() for n, p in actor.model.named_parameters() if p.requires_grad}


def run(out: Path, mode: str) -> None:
    dist = Dist(cpu=True)
    out = out / mode
    mcfg = ModelCfg(lora=mode == "lora", full_finetune=mode == "full", lora_r=4)
    actor, update, whole, base = _build(dist, mcfg)

    frames = list(np.random.default_rng(0).integers(0, 256, (TURNS, 144, 160, 3), dtype=np.uint8))
    torch.manual_seed(1)
    with full_params(actor.model):  # generating on the gathered weights: the same turns in every process
        turns = actor.act(frames)
    ids = [t.response_ids.tolist() for t in turns]
    if any(other != ids for other in dist.gather(ids)):
        raise AssertionError("the processes sampled different turns from the same weights and seed")
    adv = torch.randn(TURNS, generator=torch.Generator().manual_seed(2))
    lo, hi = {1: (0, TURNS), 2: (0, SPLIT) if dist.rank == 0 else (SPLIT, TURNS)}[dist.world]
    batch = SimpleNamespace(turns=turns[lo:hi], scenes=SCENES[lo:hi])
    adv, keep = adv[lo:hi], torch.ones(hi - lo, dtype=torch.bool)

    def step(update, seed):
        torch.manual_seed(seed)  # the minibatch shuffle
        return update.update(batch, adv, keep, step=1)

    metrics = step(update, 3)
    first = _weights(actor)
    state, weights = whole.state_dict(), full_state_dict(actor.model)  # the checkpoint, as stages/rl.py writes it
    if dist.is_main:
        save_checkpoint(out / "ckpt", 1, optimizers={"actor": state},
                        save_policy_fn=lambda p: save_policy(actor.model, actor.processor, p, base, state_dict=weights))
    dist.barrier()
    step(update, 4)
    second = _weights(actor)

    actor, update, whole, _ = _build(dist, mcfg, checkpoint=out / "ckpt" / "step_000001" / "policy")
    restore(find_checkpoint(out / "ckpt"), {"actor": whole})
    step(update, 4)
    resumed = _weights(actor)
    if dist.is_main:
        for name, w in (("first", first), ("second", second), ("resumed", resumed)):
            save_file(w, out / f"{name}.safetensors")
        (out / "first.json").write_text(json.dumps(metrics))
    dist.barrier()


if __name__ == "__main__":
    torch.set_num_threads(1)
    for m in sys.argv[2:]:
        run(Path(sys.argv[1]), m)
