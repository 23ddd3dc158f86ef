"""Stage 2: supervised fine-tuning on the annotated frames (the perception-first warm start).

Cross-entropy on the response tokens only, LoRA or full fine-tuning as the model
config says, cosine schedule with warm-up. Afterwards the policy answers the
held-out frames and we report the strict / lenient format rate, the action
diversity, agreement with the teacher and perception fidelity.

    python -m vlm_rl.train stages=[sft] sft.epochs=1 sft.lr=2e-3
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..checkpoint import find_checkpoint, restore, save_checkpoint
from ..config import Config
from ..dataset import Example, load_split
from ..dist import Dist
from ..guards import check_finite
from ..metrics import MetricLogger
from ..models.load import VISION_MODULES
from ..models.policy import base_model_path, load_model, make_actor, pick_device, save_policy
from ..parsing import format_stats
from ..perception import facts_from_text
from ..runs import RunDir
from ..sharding import WholeOptimizer, fsdp_launched, full_params, full_state_dict, is_sharded, set_gradient_sync, shard

log = logging.getLogger(__name__)


def frame_report(actor, examples: list[Example], batch: int = 16, greedy: bool = False,
                 dist: Dist | None = None) -> dict[str, float]:
    """The policy's answers on held-out frames: format, action diversity, teacher agreement, perception.
    With `dist`, every process answers its share of the frames (a collective: all call it)."""
    lo, hi = share(len(examples), dist)
    calls = -(-(hi - lo) // batch)
    if dist is not None:  # transformers generates with a sharded model in step across processes (synced_gpus):
        calls = dist.agree_max(calls)  # every process calls as often, on a stand-in frame when it has none left
    parsed = []
    for k in range(calls):
        chunk = examples[lo + k * batch : min(lo + (k + 1) * batch, hi)]
        turns = actor.act([e.frame for e in chunk or examples[:1]], greedy=greedy)
        parsed += [turn.parsed for turn in turns] if chunk else []
    if dist is not None:
        parsed = sum(dist.gather(parsed), [])
    agree, fact_hits, fact_n, exact, with_facts = 0, 0, 0, 0, 0
    per_fact: dict[str, list[bool]] = {}
    wanted: dict[str, Counter] = {}
    for ex, p in zip(examples, parsed, strict=True):
        agree += p.buttons is not None and tuple(p.buttons) == tuple(ex.meta.get("buttons", ()))
        if "facts" in ex.meta:
            with_facts += 1
            got = facts_from_text(p.perception)
            ok = [got[k] == v for k, v in ex.meta["facts"].items()]
            fact_hits, fact_n, exact = fact_hits + sum(ok), fact_n + len(ok), exact + all(ok)
            for k, v in ex.meta["facts"].items():
                per_fact.setdefault(k, []).append(got[k] == v)
                wanted.setdefault(k, Counter())[v] += 1
    stats = format_stats(parsed)
    counts = Counter(p.action_name for p in parsed if p.buttons is not None)
    total = sum(counts.values())
    probs = np.array([c / total for c in counts.values()]) if total else np.array([])
    out = {
        "strict_rate": stats["strict_rate"],
        "lenient_rate": stats["lenient_rate"],
        "distinct_actions": float(len(counts)),
        "action_entropy": float(-(probs * np.log(probs)).sum()) if total else 0.0,
        "teacher_agreement": agree / max(len(examples), 1),
    }
    if with_facts:
        out["perception_exact"] = exact / with_facts
        out["perception_facts"] = fact_hits / max(fact_n, 1)
        # Per fact, beside what always answering these frames' most common value would score:
        # a model at or below that line is not reading the frame for that fact.
        for k, hits in per_fact.items():
            out[f"perception_{k}"] = sum(hits) / len(hits)
            out[f"perception_{k}_majority"] = wanted[k].most_common(1)[0][1] / len(hits)
    for name, c in counts.most_common():
        out[f"action/{name}"] = c / total
    return out


def share(n: int, dist: Dist | None) -> tuple[int, int]:
    """This process's slice [lo, hi) of n items split in contiguous, near-equal parts over the processes."""
    if dist is None:
        return 0, n
    return dist.rank * n // dist.world, (dist.rank + 1) * n // dist.world


def _schedule(opt, kind: str, total: int, warmup: int):
    from transformers import get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup

    if kind == "cosine":
        return get_cosine_schedule_with_warmup(opt, warmup, total)
    return get_constant_schedule_with_warmup(opt, warmup)  # the config allows cosine or constant


def batch_indices(n: int, batch_size: int, seed: int, index: int) -> list[int]:
    """The examples of the `index`-th micro-batch of training: epochs are seeded permutations of the n
    examples cut into full batches (the remainder sits out that epoch), so any batch can be found again."""
    per_epoch = max(1, n // batch_size)
    epoch, b = divmod(index, per_epoch)
    order = _permutation(n, seed, epoch)
    return order[b * batch_size : (b + 1) * batch_size].tolist()


@functools.lru_cache(maxsize=2)
def _permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def sft(cfg: Config) -> Path:
    """Train on RUN/data and write the policy to RUN/sft/policy (skipped if done and resume is on).
    Under `accelerate launch` every process trains on its share of each batch, sharded with the FSDP config."""
    s = cfg.sft
    run = RunDir(cfg.out_dir)
    out, final = run.sft, run.sft_policy
    if cfg.resume and run.done("sft"):
        log.info("sft: %s is complete, skipping", final)
        return final
    torch.manual_seed(cfg.seed)  # the same LoRA initialisation in every process
    train, heldout = load_split(run.data, "train"), load_split(run.data, "test")
    if not train:
        raise ValueError(f"{run.data} has no training frames; annotate more (annotate.frames)")
    dist = Dist(cpu=pick_device(cfg.device) == "cpu")
    device = dist.device(pick_device(cfg.device))
    ckpt = find_checkpoint(run.ckpt("sft")) if cfg.resume else None
    corpus = [ex.text for ex in train[:2000]]
    with dist.state.main_process_first():  # a tiny model is built by the main process, then found by the others
        base_model_path(cfg.model, corpus)
    model, processor, base = load_model(cfg.model, device, checkpoint=ckpt[0] / "policy" if ckpt else None,
                                        corpus=corpus)
    if s.vision_warmup_steps and not _vision_parameters(model):
        log.warning("sft: no vision warm-up: the vision tower does not train (LoRA, or model.train_vision=false)")
    elif s.vision_warmup_steps:
        if not ckpt:  # before sharding: every process trains the whole tower alike
            warm_up_vision(make_actor(model, processor, cfg.env.game, cfg.model), train, s, cfg.seed)
        # then SFT trains the rest: the early gradients of a random language model would blur what the tower
        # learned (measured: docs/training.md)
        for p in _vision_parameters(model):
            p.requires_grad_(False)
    if fsdp_launched():  # `accelerate launch --config_file .../accelerate/fsdp.yaml`: the model is sharded
        shard(model, device, dist.world)
    if dist.world > 1:
        log.info("sft: process %d/%d, %s", dist.rank, dist.world, "the model sharded with FSDP" if is_sharded(model)
                 else "a whole model, gradients summed across processes")
    actor = make_actor(model, processor, cfg.env.game, cfg.model, cfg.rl, temperature=1.0)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters: set model.lora=true or model.full_finetune=true")
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
    whole = WholeOptimizer(model, opt) if is_sharded(model) else opt  # what a checkpoint holds
    per_epoch = max(1, len(train) // s.batch_size)  # full batches, as batch_indices cuts them
    total = max(1, s.epochs * per_epoch // s.grad_accum)
    sched = _schedule(opt, s.scheduler, total, int(s.warmup_ratio * total))
    step = 0
    if ckpt:
        step, extra = restore(ckpt, {"actor": whole})
        sched.load_state_dict(extra["scheduler"])
        log.info("sft: resuming from %s (step %d of %d)", ckpt[0], step, total)
    hint = f"sft.lr={s.lr} too high, or sft.max_grad_norm={s.max_grad_norm} too loose"
    logger = MetricLogger(out, enabled=dist.is_main, resume_step=step)
    model.train()
    bar = tqdm(total=total, initial=step, desc="sft", unit="step", disable=not dist.is_main)
    micro = step * s.grad_accum  # a resumed run carries on mid-epoch with the very batches it would have seen
    while step < total:
        examples = [train[j] for j in batch_indices(len(train), s.batch_size, cfg.seed, micro)]
        lo, hi = share(len(examples), dist)
        pad = lo == hi  # no example of this batch here: a zero-weight pass (under FSDP every process runs as many)
        mine = examples[lo:hi] or examples[:1]
        batch = actor.collate(actor.teacher_turns([e.frame for e in mine], [e.text for e in mine]))
        set_gradient_sync(model, (micro + 1) % s.grad_accum == 0)  # FSDP reduces on a step's last micro-batch
        lp = actor.logprobs(batch)
        mask = batch.response_mask.to(lp.device)
        # over the token count of every process's share: the processes' gradients sum to the whole batch's
        loss = -(lp * mask).sum() / dist.sum(0.0 if pad else float(mask.sum()))
        check_finite("loss", loss, f"sft step {step + 1}", hint)
        ((loss * 0.0 if pad else loss) / s.grad_accum).backward()
        micro += 1
        if micro % s.grad_accum:
            continue
        if not is_sharded(model):
            dist.sync_grads(params, op="sum")
        gn = torch.nn.utils.clip_grad_norm_(params, s.max_grad_norm)  # the global norm under FSDP too
        gn = gn.full_tensor() if hasattr(gn, "full_tensor") else gn
        check_finite("gradient norm", gn, f"sft step {step + 1}", hint)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        batch_loss = dist.sum(0.0 if pad else loss.item())  # the last micro-batch's, over every process's share
        bar.update(1)
        bar.set_postfix(loss=f"{batch_loss:.3f}")
        if step % s.log_every == 0 or step == total:
            logger.log(step, {"sft/loss": batch_loss, "sft/grad_norm": float(gn), "sft/lr": sched.get_last_lr()[0]})
        if step % max(1, total // 4) == 0 and step < total:
            _checkpoint(run, step, model, processor, base, whole, sched, dist)
    bar.close()
    weights = full_state_dict(model)  # a collective: every process takes part, process 0 writes
    if dist.is_main:
        save_policy(model, processor, final, base, state_dict=weights)
    with full_params(model):  # whole weights to generate with, under FSDP
        report = frame_report(actor, heldout[: s.eval_frames], dist=dist)
        # Sampling at temperature 1 (as RL acts) blurs what the policy reads; greedy shows its best guess.
        greedy = frame_report(actor, heldout[: s.eval_frames], greedy=True, dist=dist)
    report |= {f"greedy_{k}": v for k, v in greedy.items() if k.startswith("perception_") and "majority" not in k}
    report["train_frames"], report["heldout_frames"], report["steps"] = len(train), len(heldout), total
    logger.log(total, {f"sft_eval/{k}": v for k, v in report.items()})
    logger.close()
    if dist.is_main:
        run.sft_report.write_text(json.dumps(report, indent=1))
        log.info("sft: held-out format strict %.1f%% lenient %.1f%%, %d distinct actions, teacher agreement "
                 "%.1f%%", 100 * report["strict_rate"], 100 * report["lenient_rate"], report["distinct_actions"],
                 100 * report["teacher_agreement"])
        if "perception_exact" in report:
            log.info("sft: held-out perception exact %.1f%% sampled, %.1f%% greedy; greedy per fact (most common "
                     "value): %s", 100 * report["perception_exact"], 100 * report["greedy_perception_exact"],
                     ", ".join(f"{k} {100 * report[f'greedy_perception_{k}']:.1f}% "
                               f"({100 * report[f'perception_{k}_majority']:.1f}%)" for k in _facts(report)))
    dist.barrier()
    return final


def _facts(report: dict[str, float]) -> list[str]:
    return [k.removeprefix("perception_").removesuffix("_majority") for k in report if k.endswith("_majority")]


def warm_up_vision(actor, train: list[Example], s, seed: int) -> dict[str, float]:
    """Teach the vision tower and connector the RAM's facts before SFT, through linear heads on a frame's
    image tokens (thrown away after). A language model trained from random weights never learns to read
    facts that sit in a few of the image tokens (the player's height, an 8-px enemy) out of ~400 prompt
    tokens: docs/training.md, "Why perception was low". Returns the head's last-batch accuracy per fact."""
    framed = [e for e in train if "facts" in e.meta]
    if not framed:
        raise ValueError("sft.vision_warmup_steps needs frames annotated with RAM facts (annotate.teacher=ram)")
    keys = sorted(framed[0].meta["facts"])
    values = {k: sorted({e.meta["facts"][k] for e in framed}) for k in keys}
    model = actor.model
    tower = _vision_parameters(model)
    if not tower:
        raise ValueError("sft.vision_warmup_steps needs a trainable vision tower (model.train_vision=true)")
    # Two linear heads per fact: one on all the image tokens side by side (learns fast) and one on their mean
    # (puts the fact in what every image token carries, which is what the language model's near-uniform
    # attention reads at first). The tower alone behind either head learns each fact; the language model
    # after a warm-up with the first head alone read only two of the three facts, which two varying by seed.
    heads = torch.nn.ModuleDict({f"{k}{pool}": torch.nn.LazyLinear(len(v))
                                 for k, v in values.items() for pool in ("", "_mean")}).to(actor.device)

    def logits(examples):
        enc = actor.prepare([e.frame for e in examples]).to(actor.device)
        pixels = {k: v for k, v in enc.items() if k.startswith(("pixel", "image_grid"))}
        tokens = torch.stack(model.get_image_features(**pixels).pooler_output)
        return {k: head(tokens.mean(1) if k.endswith("_mean") else tokens.flatten(1)) for k, head in heads.items()}

    start = time.perf_counter()
    logits(framed[:1])  # sizes the lazy heads
    opt = torch.optim.AdamW([*tower, *heads.parameters()], lr=s.lr)
    model.train()
    draw = torch.Generator().manual_seed(seed)
    for _ in range(s.vision_warmup_steps):
        batch = [framed[j] for j in torch.randint(len(framed), (s.batch_size,), generator=draw).tolist()]
        out = logits(batch)
        want = {k: torch.tensor([values[k].index(e.meta["facts"][k]) for e in batch], device=actor.device)
                for k in keys}
        loss = sum(torch.nn.functional.cross_entropy(out[k], want[k.removesuffix("_mean")]) for k in out)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    acc = {k: float((out[k].argmax(-1) == want[k]).float().mean()) for k in keys}
    log.info("sft: vision warm-up, %d steps in %.0f s: last batch %s", s.vision_warmup_steps,
             time.perf_counter() - start, ", ".join(f"{k} {100 * a:.0f}%" for k, a in acc.items()))
    return acc


def _vision_parameters(model) -> list[torch.nn.Parameter]:
    """The trainable parameters of the vision tower and connector."""
    prefixes = VISION_MODULES.get(getattr(model.config, "model_type", ""), ())
    return [p for n, p in model.named_parameters() if p.requires_grad and any(f"{x}." in n for x in prefixes)]


def _checkpoint(run: RunDir, step: int, model, processor, base: str, whole, sched, dist: Dist) -> None:
    # gathering a sharded model's weights and optimizer state is a collective; process 0 writes
    state, weights = whole.state_dict(), full_state_dict(model)
    if dist.is_main:
        save_checkpoint(run.ckpt("sft"), step,
                        save_policy_fn=lambda p: save_policy(model, processor, p, base, state_dict=weights),
                        optimizers={"actor": state}, extra={"scheduler": sched.state_dict()})
    dist.barrier()
