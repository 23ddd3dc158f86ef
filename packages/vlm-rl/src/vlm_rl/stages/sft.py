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
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..checkpoint import find_checkpoint, restore, save_checkpoint
from ..config import Config
from ..dataset import Example, load_split
from ..guards import check_finite
from ..metrics import MetricLogger
from ..models.policy import load_model, make_actor, pick_device, save_policy
from ..parsing import format_stats
from ..perception import facts_from_text
from ..runs import RunDir

log = logging.getLogger(__name__)


def frame_report(actor, examples: list[Example], batch: int = 16, greedy: bool = False) -> dict[str, float]:
    """The policy's answers on held-out frames: format, action diversity, teacher agreement, perception."""
    parsed, agree, fact_hits, fact_n, exact = [], 0, 0, 0, 0
    with_facts = 0
    for i in range(0, len(examples), batch):
        chunk = examples[i : i + batch]
        for ex, turn in zip(chunk, actor.act([e.frame for e in chunk], greedy=greedy), strict=True):
            p = turn.parsed
            parsed.append(p)
            agree += p.buttons is not None and tuple(p.buttons) == tuple(ex.meta.get("buttons", ()))
            if "facts" in ex.meta:
                with_facts += 1
                got = facts_from_text(p.perception)
                ok = [got[k] == v for k, v in ex.meta["facts"].items()]
                fact_hits, fact_n, exact = fact_hits + sum(ok), fact_n + len(ok), exact + all(ok)
    stats = format_stats(parsed)
    dist = Counter(p.action_name for p in parsed if p.buttons is not None)
    total = sum(dist.values())
    probs = np.array([c / total for c in dist.values()]) if total else np.array([])
    out = {
        "strict_rate": stats["strict_rate"],
        "lenient_rate": stats["lenient_rate"],
        "distinct_actions": float(len(dist)),
        "action_entropy": float(-(probs * np.log(probs)).sum()) if total else 0.0,
        "teacher_agreement": agree / max(len(examples), 1),
    }
    if with_facts:
        out["perception_exact"] = exact / with_facts
        out["perception_facts"] = fact_hits / max(fact_n, 1)
    for name, c in dist.most_common():
        out[f"action/{name}"] = c / total
    return out


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
    """Train on RUN/data and write the policy to RUN/sft/policy (skipped if done and resume is on)."""
    s = cfg.sft
    run = RunDir(cfg.out_dir)
    out, final = run.sft, run.sft_policy
    if cfg.resume and run.done("sft"):
        log.info("sft: %s is complete, skipping", final)
        return final
    torch.manual_seed(cfg.seed)
    train, heldout = load_split(run.data, "train"), load_split(run.data, "test")
    if not train:
        raise ValueError(f"{run.data} has no training frames; annotate more (annotate.frames)")
    device = pick_device(cfg.device)
    ckpt = find_checkpoint(run.ckpt("sft")) if cfg.resume else None
    corpus = [ex.text for ex in train[:2000]]
    model, processor, base = load_model(cfg.model, device, checkpoint=ckpt[0] / "policy" if ckpt else None,
                                        corpus=corpus)
    actor = make_actor(model, processor, cfg.env.game, cfg.model, cfg.rl, temperature=1.0)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters: set model.lora=true or model.full_finetune=true")
    opt = torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay)
    per_epoch = max(1, len(train) // s.batch_size)  # full batches, as batch_indices cuts them
    total = max(1, s.epochs * per_epoch // s.grad_accum)
    sched = _schedule(opt, s.scheduler, total, int(s.warmup_ratio * total))
    step = 0
    if ckpt:
        step, extra = restore(ckpt, {"actor": opt})
        sched.load_state_dict(extra["scheduler"])
        log.info("sft: resuming from %s (step %d of %d)", ckpt[0], step, total)
    hint = f"sft.lr={s.lr} too high, or sft.max_grad_norm={s.max_grad_norm} too loose"
    logger = MetricLogger(out, resume_step=step)
    model.train()
    bar = tqdm(total=total, initial=step, desc="sft", unit="step")
    micro = step * s.grad_accum  # a resumed run carries on mid-epoch with the very batches it would have seen
    while step < total:
        examples = [train[j] for j in batch_indices(len(train), s.batch_size, cfg.seed, micro)]
        batch = actor.collate(actor.teacher_turns([e.frame for e in examples], [e.text for e in examples]))
        lp = actor.logprobs(batch)
        mask = batch.response_mask.to(lp.device)
        loss = -(lp * mask).sum() / mask.sum()
        check_finite("loss", loss, f"sft step {step + 1}", hint)
        (loss / s.grad_accum).backward()
        micro += 1
        if micro % s.grad_accum:
            continue
        gn = torch.nn.utils.clip_grad_norm_(params, s.max_grad_norm)
        check_finite("gradient norm", gn, f"sft step {step + 1}", hint)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % s.log_every == 0 or step == total:
            logger.log(step, {"sft/loss": loss.item(), "sft/grad_norm": float(gn), "sft/lr": sched.get_last_lr()[0]})
        if step % max(1, total // 4) == 0 and step < total:
            save_checkpoint(run.ckpt("sft"), step, save_policy_fn=lambda p: save_policy(model, processor, p, base),
                            optimizers={"actor": opt}, extra={"scheduler": sched.state_dict()})
    bar.close()
    save_policy(model, processor, final, base)
    report = frame_report(actor, heldout[: s.eval_frames])
    report["train_frames"], report["heldout_frames"], report["steps"] = len(train), len(heldout), total
    logger.log(total, {f"sft_eval/{k}": v for k, v in report.items()})
    logger.close()
    run.sft_report.write_text(json.dumps(report, indent=1))
    log.info("sft: held-out format strict %.1f%% lenient %.1f%%, %d distinct actions, teacher agreement %.1f%%",
             100 * report["strict_rate"], 100 * report["lenient_rate"], report["distinct_actions"],
             100 * report["teacher_agreement"])
    return final
