"""Stage 3: RL with turn-level advantages (PPO + CNN critic + positive filtering by default).

One step: sample levels from the auto-curriculum, play `rl.trajectories` episodes
on `rl.envs` envs with one batched generate call per turn, compute the
registered advantage estimator over the batch (all processes' turns together),
update the critic, then (after `rl.critic.warmup_steps`) the actor with the
registered policy loss in minibatches, token-mean over response tokens.

    python -m vlm_rl.train stages=[rl] algo=grpo_outcome
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .algos import get_advantage, get_loss
from .algos.advantages import drop_last_turns
from .checkpoint import find_checkpoint, load_critic, optimizer_from_flat, save_checkpoint, set_rng_state
from .critic import CNNCritic, CriticTrainer
from .curriculum import AutoCurriculum
from .curves import CurveWriter
from .dist import Dist
from .envs import make_env
from .episodes import run_episodes
from .metrics import MetricLogger
from .policy_io import POLICY_META, load_model, make_actor, pick_device, save_policy
from .rollout import ActorPolicy, FlatBatch, episode_stats, flatten, make_jobs

log = logging.getLogger(__name__)


def rl_dir(cfg: Any) -> Path:
    return Path(cfg.out_dir) / "rl"


def policy_path(cfg: Any) -> Path:
    return rl_dir(cfg) / "policy"


class Trainer:
    def __init__(self, cfg: Any, init_policy: str | Path | None):
        self.cfg, self.r, self.algo = cfg, cfg.rl, cfg.algo
        self.dist = Dist(cpu=pick_device(str(cfg.device)) == "cpu")
        self.device = pick_device(str(cfg.device))
        if self.device == "cuda" and self.dist.world > 1:
            self.device = f"cuda:{self.dist.state.local_process_index}"
        self.out = rl_dir(cfg)
        seed = int(cfg.seed) + 1000 * self.dist.rank
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.step, self.samples = 0, 0

        ckpt = find_checkpoint(self.out / "ckpt") if cfg.resume else None
        start = ckpt[0] / "policy" if ckpt else init_policy
        self.model, self.processor, self.base = load_model(cfg.model, self.device, checkpoint=start)
        self.actor = make_actor(self.model, self.processor, str(cfg.env.game), cfg.model, self.r)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the policy has no trainable parameters: set model.lora=true or model.full_finetune=true")
        self.opt = torch.optim.AdamW(self.params, lr=float(self.r.lr), weight_decay=float(self.r.weight_decay))
        self.critic = self.critic_trainer = None
        if self.algo.critic:
            c = self.r.critic
            self.critic = CNNCritic(value_scale=float(c.value_scale)).to(self.device)
            self.critic_trainer = CriticTrainer(self.critic, lr=float(c.lr), weight_decay=float(c.weight_decay),
                                                max_grad_norm=float(c.max_grad_norm),
                                                minibatch_size=int(c.minibatch_size))
            if self.dist.world > 1:  # same initial critic everywhere
                state = self.dist.gather({k: v.cpu() for k, v in self.critic.state_dict().items()})[0]
                self.critic.load_state_dict(state)
        self.curriculum = AutoCurriculum([str(lv) for lv in cfg.env.levels], mode=str(self.r.curriculum))
        self.advantage = get_advantage(str(self.algo.advantage))
        self.loss_fn = get_loss(str(self.algo.loss))
        if ckpt:
            self._resume(*ckpt)
        self.envs = [make_env(cfg.env) for _ in range(int(self.r.envs))]
        self.logger = MetricLogger(self.out, enabled=self.dist.is_main)
        self.curve = CurveWriter(self.out / "curve.jsonl", str(self.algo.name), int(cfg.seed)) if self.dist.is_main else None

    # ---- checkpoints -----------------------------------------------------------------------------
    def _resume(self, path: Path, tensors: dict, meta: dict) -> None:
        optimizer_from_flat(self.opt, "opt.actor", tensors, meta["optimizers"]["actor"])
        if self.critic is not None:
            load_critic(self.critic, path)
            optimizer_from_flat(self.critic_trainer.optimizer, "opt.critic", tensors, meta["optimizers"]["critic"])
        extra = meta["extra"]
        self.curriculum.load_state_dict(extra["curriculum"])
        self.samples = int(extra["samples"])
        self.step = int(meta["step"])
        set_rng_state(tensors, meta, self.rng)
        if self.dist.rank:  # the checkpoint holds rank 0's generators: the others draw their own streams again
            self.rng = np.random.default_rng([int(self.cfg.seed), self.dist.rank, self.step])
            torch.manual_seed(int(self.rng.integers(2**31)))
        log.info("rl: resumed from %s at step %d", path, self.step)

    def _checkpoint(self) -> None:
        if self.dist.is_main:
            opts = {"actor": self.opt}
            if self.critic_trainer is not None:
                opts["critic"] = self.critic_trainer.optimizer
            save_checkpoint(
                self.out / "ckpt", self.step,
                save_policy_fn=lambda p: save_policy(self.model, self.processor, p, self.base),
                optimizers=opts, critic=self.critic, np_rng=self.rng,
                extra={"curriculum": self.curriculum.state_dict(), "samples": self.samples},
            )
        self.dist.barrier()

    # ---- one step ----------------------------------------------------------------------------------
    def _start_state(self, level: str, seed: int) -> bytes:
        env = self.envs[0]
        env.reset(seed=seed, options={"level": level})
        return env.unwrapped.clone_state()

    def rollout(self):
        g = int(self.algo.group_size)
        n_groups = int(self.r.trajectories) // g
        levels = self.curriculum.sample(n_groups, self.rng)
        seeds = [int(s) for s in self.rng.integers(0, 2**31 - 1, size=n_groups)]
        # group ids unique across processes, so per-group statistics never mix processes
        jobs = make_jobs(levels, seeds, g, self._start_state, first_group=self.dist.rank * n_groups)
        policy = ActorPolicy(self.actor, self.envs)
        episodes = run_episodes(self.envs, policy, jobs, max_turns=int(self.r.max_turns),
                                format_penalty=float(self.r.format_penalty))
        return episodes, flatten(episodes)

    def advantages(self, batch: FlatBatch):
        """Estimator over every process's turns (its statistics are batch-wide), sliced back to ours."""
        values = self.critic.predict(batch.frames).cpu() if self.critic is not None else torch.zeros(len(batch.rewards))
        parts = self.dist.gather((batch.rewards, batch.traj_id, batch.group_id, values))
        offsets = [0, *itertools.accumulate(len(p[0]) for p in parts)]
        traj_all, n_traj = [], 0
        for _, traj, _, _ in parts:  # trajectory ids made unique across processes
            traj_all.append(traj + n_traj)
            n_traj += int(traj.max()) + 1 if len(traj) else 0
        out = self.advantage(
            torch.cat([p[0] for p in parts]).double(), torch.cat(traj_all), torch.cat([p[2] for p in parts]),
            torch.cat([p[3] for p in parts]).double(), float(self.algo.gamma),
            **({"scope": str(self.algo.scope)} if str(self.algo.advantage).startswith("grpo") else {}),
        )
        lo, hi = offsets[self.dist.rank], offsets[self.dist.rank] + len(batch.rewards)
        keep = out.keep[lo:hi]
        if int(self.r.drop_last_turns):
            keep = keep & drop_last_turns(batch.traj_id, int(self.r.drop_last_turns))
        return out.advantages[lo:hi].float(), out.returns[lo:hi].float(), keep, values

    def update_actor(self, batch: FlatBatch, adv: torch.Tensor, keep: torch.Tensor) -> dict[str, float]:
        idx = torch.nonzero(keep).flatten()
        idx = idx[torch.randperm(len(idx))]
        mb, micro = int(self.r.minibatch_size), int(self.r.micro_batch_size)
        n_mb = self.dist.agree_max(-(-len(idx) // mb))
        metrics: list[dict] = []
        self.model.train()
        for _ in range(int(self.r.epochs)):
            for m in range(n_mb):
                chunk = idx[m * mb : (m + 1) * mb]
                tokens = sum(len(batch.turns[i].response_ids) for i in chunk.tolist())
                total_tokens = self.dist.sum(tokens)
                self.opt.zero_grad(set_to_none=False)
                for p in self.params:
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
                for k in range(0, len(chunk), micro):
                    ids = chunk[k : k + micro].tolist()
                    b = self.actor.collate([batch.turns[i] for i in ids])
                    lp = self.actor.logprobs(b)
                    mask = b.response_mask.to(lp.device)
                    loss, info = self.loss_fn(
                        lp, b.old_logprobs.to(lp.device), adv[ids].to(lp.device), mask,
                        eps_low=float(self.algo.clip_low), eps_high=float(self.algo.clip_high),
                        dual_clip=float(self.algo.dual_clip) if self.algo.dual_clip else None,
                        num_tokens=total_tokens,
                        **self._kl_inputs(b),
                    )
                    loss.backward()
                    # the loss's metrics are sums over the global token count: back to this micro-batch's means
                    n_tok = float(mask.sum())
                    metrics.append({**{k: v * total_tokens / max(n_tok, 1.0) for k, v in info.items()},
                                    "weight": n_tok})
                self.dist.sync_grads(self.params, op="sum")  # each loss is already over the global token count
                gn = torch.nn.utils.clip_grad_norm_(self.params, float(self.r.max_grad_norm))
                self.opt.step()
                metrics.append({"grad_norm": float(gn), "weight": 0.0})
        return _weighted_mean(metrics)

    def _kl_inputs(self, b) -> dict:
        if float(self.algo.kl_coef) <= 0:
            return {}
        return {"ref_logprobs": self.actor.reference_logprobs(b).to(self.device), "kl_coef": float(self.algo.kl_coef)}

    def train_step(self) -> dict[str, float]:
        t0 = time.perf_counter()
        episodes, batch = self.rollout()
        t1 = time.perf_counter()
        adv, returns, keep, values = self.advantages(batch)
        metrics = {f"rollout/{k}": v for k, v in episode_stats(episodes, batch).items()}
        if self.critic_trainer is not None:
            n_steps = self.dist.agree_max(-(-len(returns) // self.critic_trainer.minibatch_size))
            crit = self.critic_trainer.update(batch.frames, returns, sync_grads=self.dist.sync_grads, min_steps=n_steps)
            metrics.update({f"critic/{k}": v for k, v in crit.items()})
        warm = self.critic is not None and self.step < int(self.r.critic.warmup_steps)
        kept = self.dist.sum(int(keep.sum()))
        if not warm and kept > 0:
            metrics.update({f"actor/{k}": v for k, v in self.update_actor(batch, adv, keep).items()})
        t2 = time.perf_counter()
        # curriculum from every process's episodes, identically everywhere
        lv_len = sum(self.dist.gather([(ep.job.level, ep.n_turns) for ep in episodes]), [])
        self.curriculum.update([lv for lv, _ in lv_len], [n for _, n in lv_len])
        self.samples += int(self.dist.sum(len(batch.rewards)))
        self.step += 1
        metrics.update({
            "adv/mean_kept": float(adv[keep].mean()) if keep.any() else 0.0,
            "adv/kept_fraction": float(keep.float().mean()) if len(keep) else 0.0,
            "adv/return_mean": float(returns.mean()) if len(returns) else 0.0,
            "actor/updated": float(not warm and kept > 0),
            "time/rollout_s": t1 - t0, "time/update_s": t2 - t1,
            "time/turns_per_s": len(batch.rewards) / max(t1 - t0, 1e-9),
            "samples": float(self.samples),
            **{f"curriculum/{lv}": w for lv, w in self.curriculum.weights.items()},
        })
        return metrics

    def evaluate_curve(self) -> None:
        from .evaluate import evaluate_actor

        e = self.cfg.eval
        with torch.random.fork_rng(devices=[]):  # the same sampling stream at every evaluation, training's untouched
            torch.manual_seed(int(e.seed))
            per_level = evaluate_actor(self.actor, self.cfg.env, [str(lv) for lv in e.levels],
                                       int(self.r.eval_episodes), seed=int(e.seed), max_turns=int(e.max_turns),
                                       n_envs=int(self.r.envs), envs=self.envs)
        if self.curve is not None:
            self.curve.write(self.samples, {lv: [ep.progress for ep in eps] for lv, eps in per_level.items()})

    def run(self) -> Path:
        steps = int(self.r.steps)
        every = int(self.r.eval_every)
        if every and self.step == 0:
            self.evaluate_curve()
        bar = tqdm(total=steps, initial=self.step, desc="rl", unit="step", disable=not self.dist.is_main)
        while self.step < steps:
            metrics = self.train_step()
            self.logger.log(self.step, metrics)
            bar.update(1)
            bar.set_postfix(progress=f"{metrics.get('rollout/progress_mean', 0):.0f}",
                            strict=f"{metrics.get('rollout/format_strict', 0):.2f}")
            if every and (self.step % every == 0 or self.step == steps):
                self.evaluate_curve()
            if self.step % int(self.r.checkpoint_every) == 0 or self.step == steps:
                self._checkpoint()
        bar.close()
        final = policy_path(self.cfg)
        if self.dist.is_main:
            save_policy(self.model, self.processor, final, self.base, {"steps": self.step, "samples": self.samples})
            (self.out / "DONE.json").write_text(json.dumps({"steps": self.step, "samples": self.samples}))
        self.dist.barrier()
        # every process must print the same digest: the replicas stayed in sync
        log.info("rl: process %d/%d parameter digest %s", self.dist.rank, self.dist.world, _digest_params(self.params))
        self.logger.close()
        for env in self.envs:
            env.close()
        return final


def _digest_params(params) -> str:
    """A short hash of the trained weights."""
    import hashlib

    h = hashlib.sha256()
    for p in params:
        h.update(p.detach().cpu().float().numpy().tobytes())
    return h.hexdigest()[:16]


def _weighted_mean(rows: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {}
    keys = {k for r in rows for k in r if k != "weight"}
    for k in keys:
        pairs = [(r[k], r["weight"] or 1.0) for r in rows if k in r]
        out[k] = sum(v * w for v, w in pairs) / sum(w for _, w in pairs)
    return out


def initial_policy(cfg: Any) -> str | None:
    """rl.init: `sft` (the SFT stage's policy), `base` (RL on the base model, the paper's Odysseus-Zero),
    `auto` (SFT's if it exists, else base) or a saved policy directory."""
    from .sft import policy_path as sft_policy

    init = str(cfg.rl.init)
    if init == "base":
        return None
    if init in ("sft", "auto"):
        path = sft_policy(cfg)
        if (path / POLICY_META).is_file():
            return str(path)
        if init == "sft":
            raise FileNotFoundError(f"rl.init=sft but {path} holds no SFT policy: run the sft stage first, "
                                    "or set rl.init=base to start RL from the base model")
        return None
    if not (Path(init) / POLICY_META).is_file():
        raise FileNotFoundError(f"rl.init={init!r} is not a saved policy directory (no {POLICY_META})")
    return init


def rl(cfg: Any, init_policy: str | Path | None = None) -> Path:
    """Run RL from `init_policy` (the SFT policy, or the base model if None); returns the final policy dir."""
    if cfg.resume and (rl_dir(cfg) / "DONE.json").is_file() and (policy_path(cfg) / POLICY_META).is_file():
        log.info("rl: %s is complete, skipping", policy_path(cfg))
        return policy_path(cfg)
    return Trainer(cfg, init_policy).run()
