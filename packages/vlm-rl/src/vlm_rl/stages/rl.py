"""Stage 3: RL with turn-level advantages (PPO + CNN critic + positive filtering by default).

One step reads top to bottom: sample levels from the auto-curriculum and play
`rl.trajectories` episodes (`rollout`), compute the registered advantage
estimator over every process's turns (`advantages`), update the critic and,
after `rl.critic.warmup_steps`, the actor (`vlm_rl.update`), log, checkpoint.

    python -m vlm_rl.train stages=[rl] algo=grpo_outcome
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..algos import Entry, drop_last_turns, get_advantage_entry, get_loss_entry
from ..checkpoint import find_checkpoint, restore, save_checkpoint
from ..config import AlgoCfg, Config
from ..curriculum import AutoCurriculum
from ..dist import Dist
from ..engines import EnginePolicy, logprob_gap, make_engine
from ..envs import make_env
from ..metrics import MetricLogger
from ..models.critic import CNNCritic
from ..models.policy import load_model, make_actor, pick_device, save_policy
from ..replay.record import keep_rl_step, rl_records, write_replay
from ..report.curves import CurveWriter
from ..rollout import RolloutBatch, episode_stats, evaluate_actor, flatten, make_jobs, run_episodes
from ..runs import RunDir
from ..sharding import WholeOptimizer, fsdp_launched, full_params, full_state_dict, shard
from ..update import ActorUpdate, CriticUpdate

log = logging.getLogger(__name__)


class Trainer:
    def __init__(self, cfg: Config, init_policy: str | Path | None):
        self.cfg, self.r, self.algo = cfg, cfg.rl, cfg.algo
        self.run_dir = RunDir(cfg.out_dir)
        self.dist = Dist(cpu=pick_device(cfg.device) == "cpu")
        self.device = self.dist.device(pick_device(cfg.device))
        self.out = self.run_dir.rl
        seed = cfg.seed + 1000 * self.dist.rank
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.step, self.samples = 0, 0

        ckpt = find_checkpoint(self.run_dir.ckpt("rl")) if cfg.resume else None
        start = ckpt[0] / "policy" if ckpt else init_policy
        self.model, self.processor, self.base = load_model(cfg.model, self.device, checkpoint=start)
        if fsdp_launched():  # `accelerate launch --config_file .../accelerate/fsdp.yaml`: the actor is sharded
            shard(self.model, self.device, self.dist.world)
        self.actor = make_actor(self.model, self.processor, cfg.env.game, cfg.model, self.r)
        self.advantage = get_advantage_entry(self.algo.advantage)
        self.actor_update = ActorUpdate(self.actor, self.r, self.algo, get_loss_entry(self.algo.loss), self.dist)
        self.critic = self.critic_update = None
        if self.algo.critic:
            self.critic = CNNCritic(value_scale=self.r.critic.value_scale).to(self.device)
            self.critic_update = CriticUpdate.from_config(self.critic, self.r.critic)
            if self.dist.world > 1:  # same initial critic everywhere
                state = self.dist.gather({k: v.cpu() for k, v in self.critic.state_dict().items()})[0]
                self.critic.load_state_dict(state)
        self.curriculum = AutoCurriculum(list(cfg.env.levels), mode=self.r.curriculum)
        if ckpt:
            self._resume(ckpt)
        self.envs = [make_env(cfg.env, ram_info=True) for _ in range(self.r.envs)]
        # samples every rollout turn; follows the actor's weights after each update
        self.engine = make_engine(cfg.rollout, self.actor, self.base, cfg.model, seed=seed)
        self.logger = MetricLogger(self.out, enabled=self.dist.is_main, resume_step=self.step if cfg.resume else None)
        self.curve = CurveWriter(self.run_dir.curve, self.algo.name, cfg.seed) if self.dist.is_main else None

    # ---- checkpoints -----------------------------------------------------------------------------
    def _optimizers(self) -> dict:
        opt = self.actor_update.optimizer
        opts = {"actor": WholeOptimizer(self.model, opt) if self.actor_update.sharded else opt}
        if self.critic_update is not None:
            opts["critic"] = self.critic_update.optimizer
        return opts

    def _resume(self, ckpt) -> None:
        self.step, extra = restore(ckpt, self._optimizers(), self.rng, self.critic)
        self.curriculum.load_state_dict(extra["curriculum"])
        self.samples = int(extra["samples"])
        if self.dist.rank:  # the checkpoint holds rank 0's generators: the others draw their own streams again
            self.rng = np.random.default_rng([self.cfg.seed, self.dist.rank, self.step])
            torch.manual_seed(int(self.rng.integers(2**31)))
        log.info("rl: resumed from %s at step %d", ckpt[0], self.step)

    def _checkpoint(self) -> None:
        # every process takes part in gathering a sharded actor's optimizer state and weights; rank 0 writes
        optimizers = {k: opt.state_dict() for k, opt in self._optimizers().items()}
        weights = full_state_dict(self.model)
        if self.dist.is_main:
            save_checkpoint(
                self.run_dir.ckpt("rl"), self.step,
                save_policy_fn=lambda p: save_policy(self.model, self.processor, p, self.base, state_dict=weights),
                optimizers=optimizers, critic=self.critic, np_rng=self.rng,
                extra={"curriculum": self.curriculum.state_dict(), "samples": self.samples},
            )
        self.dist.barrier()

    # ---- one step ----------------------------------------------------------------------------------
    def _start_state(self, level: str, seed: int) -> bytes:
        env = self.envs[0]
        env.reset(seed=seed, options={"level": level})
        return env.unwrapped.clone_state()

    def rollout(self):
        g = self.algo.group_size
        n_groups = self.r.trajectories // g
        levels = self.curriculum.sample(n_groups, self.rng)
        seeds = [int(s) for s in self.rng.integers(0, 2**31 - 1, size=n_groups)]
        # group ids unique across processes, so per-group statistics never mix processes
        jobs = make_jobs(levels, seeds, g, self._start_state, first_group=self.dist.rank * n_groups)
        episodes = run_episodes(self.envs, EnginePolicy(self.engine), jobs, max_turns=self.r.max_turns,
                                format_penalty=self.r.format_penalty)
        return episodes, flatten(episodes)

    def values(self, batch: RolloutBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Critic values of every step's frame and of the frame after it (zeros without a critic)."""
        if self.critic is None:
            zeros = torch.zeros(len(batch))
            return zeros, zeros
        values = self.critic.predict(batch.frames).cpu()
        if "next_values" not in self.advantage.inputs:
            return values, values
        return values, batch.next_values(values, self.critic.predict(batch.final_frames).cpu())

    def train_step(self) -> dict[str, float]:
        t0 = time.perf_counter()
        with full_params(self.model):  # whole weights to generate with, under FSDP
            episodes, batch = self.rollout()
        t1 = time.perf_counter()
        values, next_values = self.values(batch)
        rows = torch.arange(len(batch))  # each remaining turn's row in the full batch
        if self.r.drop_last_turns:  # before the estimator: the dropped turns leave every statistic
            kept = drop_last_turns(batch.traj_id, self.r.drop_last_turns)
            batch, values, next_values, rows = batch.select(kept), values[kept], next_values[kept], rows[kept]
        adv, returns, keep = advantages(self.advantage, self.algo, self.dist, batch, values, next_values)
        if self.dist.is_main and keep_rl_step(self.step + 1, self.r.steps, self.cfg.replay.rl_every):
            records = rl_records(episodes, rows, values if self.critic is not None else None, returns, adv, keep)
            write_replay(self.run_dir.rl_replay(self.step + 1), records, kind="rl", title=f"RL step {self.step + 1}",
                         step=self.step + 1)
        metrics = {f"rollout/{k}": v for k, v in episode_stats(episodes, batch).items()}
        with full_params(self.model):  # a sharded root left unsharded by a bare forward would break the update
            metrics.update({f"rollout/{k}": v for k, v in self.mismatch(batch).items()})
        if self.critic_update is not None:
            n_steps = self.dist.agree_max(-(-len(returns) // self.critic_update.minibatch_size))
            crit = self.critic_update.update(batch.frames, returns, sync_grads=self.dist.sync_grads, min_steps=n_steps)
            metrics.update({f"critic/{k}": v for k, v in crit.items()})
        warm = self.critic is not None and self.step < self.r.critic.warmup_steps
        n_keep = self.dist.sum(int(keep.sum()))
        # the perception term learns from every visited frame, so it updates even when no turn is kept
        update = not warm and (n_keep > 0 or self.r.perception_coef > 0)
        if update:
            self.engine.sleep()  # frees the engine's GPU memory for the update where it can
            metrics.update({f"actor/{k}": v for k, v in self.actor_update.update(batch, adv, keep, self.step + 1).items()})
            self.engine.sync_weights()  # the next rollout samples from the updated weights
        t2 = time.perf_counter()
        # the curriculum counts the turns each trajectory kept, from every process, identically everywhere
        lengths = torch.bincount(batch.traj_id, minlength=len(episodes)).tolist()
        lv_len = sum(self.dist.gather([(ep.job.level, n) for ep, n in zip(episodes, lengths, strict=True)]), [])
        self.curriculum.update([lv for lv, _ in lv_len], [n for _, n in lv_len])
        self.samples += int(self.dist.sum(len(batch.rewards)))
        self.step += 1
        metrics.update({
            "adv/mean_kept": float(adv[keep].mean()) if keep.any() else 0.0,
            "adv/kept_fraction": float(keep.float().mean()) if len(keep) else 0.0,
            "adv/return_mean": float(returns.mean()) if len(returns) else 0.0,
            "actor/updated": float(update),
            "time/rollout_s": t1 - t0, "time/update_s": t2 - t1,
            "time/turns_per_s": len(batch.rewards) / max(t1 - t0, 1e-9),
            "samples": float(self.samples),
            **{f"curriculum/{lv}": w for lv, w in self.curriculum.weights.items()},
        })
        if self.device.startswith("cuda"):
            metrics["mem/peak_gb"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        return metrics

    def mismatch(self, batch: RolloutBatch) -> dict[str, float]:
        """The gap between the sampler's log-probs and the trainer's, on `rollout.mismatch_turns` turns spread
        over the batch, before the update; a warning past `rollout.mismatch_warn`."""
        n = min(self.cfg.rollout.mismatch_turns, len(batch.turns))
        if n == 0:
            return {}
        rows = np.unique(np.linspace(0, len(batch.turns) - 1, n).round().astype(int))
        gap = logprob_gap(self.actor, [batch.turns[i] for i in rows], self.r.micro_batch_size)
        if gap["logprob_gap_max"] > self.cfg.rollout.mismatch_warn:
            log.warning("rl step %d: the %s engine's log-probs differ from the trainer's by up to %.3g per token "
                        "(rollout.mismatch_warn=%g): the sampled turns are off-policy; check the engine's dtype and "
                        "weight sync", self.step + 1, self.cfg.rollout.engine, gap["logprob_gap_max"],
                        self.cfg.rollout.mismatch_warn)
        return gap

    def evaluate_curve(self) -> None:
        e = self.cfg.eval
        # the same sampling stream at every evaluation, training's untouched; whole weights under FSDP
        with torch.random.fork_rng(devices=[]), full_params(self.model):
            torch.manual_seed(e.seed)
            per_level = evaluate_actor(self.actor, self.envs, list(e.levels), self.r.eval_episodes, seed=e.seed,
                                       max_turns=e.max_turns, keep_steps=False)
        if self.curve is not None:
            self.curve.write(self.samples, {lv: [ep.progress for ep in eps] for lv, eps in per_level.items()})

    def run(self) -> Path:
        steps, every = self.r.steps, self.r.eval_every
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
            if self.step % self.r.checkpoint_every == 0 or self.step == steps:
                self._checkpoint()
        bar.close()
        final = self.run_dir.rl_policy
        weights = full_state_dict(self.model)
        if self.dist.is_main:
            save_policy(self.model, self.processor, final, self.base, {"steps": self.step, "samples": self.samples},
                        state_dict=weights)
            self.run_dir.mark_rl_done(self.step, self.samples)
        self.dist.barrier()
        # every process must print the same digest: the replicas stayed in sync (under FSDP, each process
        # gathers the whole weights from everyone's shards)
        with full_params(self.model):
            log.info("rl: process %d/%d parameter digest %s", self.dist.rank, self.dist.world,
                     digest(p for p in self.model.parameters() if p.requires_grad))
        self.logger.close()
        self.engine.close()
        for env in self.envs:
            env.close()
        return final


def advantages(entry: Entry, algo: AlgoCfg, dist: Dist, batch: RolloutBatch, values: torch.Tensor,
               next_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The estimator over every process's turns (its statistics are batch-wide), sliced back to this
    process's: (advantages, returns, keep), each [T] for this process's T turns."""
    extra = {"terminated": batch.terminated, "truncated": batch.truncated, "next_values": next_values}
    names = entry.inputs
    parts = dist.gather((batch.rewards, batch.traj_id, batch.group_id, values, [extra[n] for n in names]))
    offsets = [0, *itertools.accumulate(len(p[0]) for p in parts)]
    traj_all, n_traj = [], 0
    for p in parts:  # trajectory ids made unique across processes
        traj_all.append(p[1] + n_traj)
        n_traj += int(p[1].max()) + 1 if len(p[1]) else 0
    inputs = {n: torch.cat([p[4][k] for p in parts]) for k, n in enumerate(names)}
    out = entry.fn(
        torch.cat([p[0] for p in parts]).double(), torch.cat(traj_all), torch.cat([p[2] for p in parts]),
        torch.cat([p[3] for p in parts]).double(), algo.gamma,
        **{n: (x.double() if x.is_floating_point() else x) for n, x in inputs.items()},
        **entry.kwargs(algo),
    )
    lo, hi = offsets[dist.rank], offsets[dist.rank] + len(batch.rewards)
    return out.advantages[lo:hi].float(), out.returns[lo:hi].float(), out.keep[lo:hi]


def digest(params) -> str:
    """A short hash of the trained weights."""
    h = hashlib.sha256()
    for p in params:
        h.update(p.detach().float().cpu().clone().numpy().tobytes())  # a copy: FSDP frees its gathered storage
    return h.hexdigest()[:16]


def rl(cfg: Config) -> Path:
    """Run RL from the policy `rl.init` names; returns the final policy dir (skipped if done and resuming)."""
    run = RunDir(cfg.out_dir)
    if cfg.resume and run.done("rl"):
        log.info("rl: %s is complete, skipping", run.rl_policy)
        return run.rl_policy
    return Trainer(cfg, run.rl_start(cfg.rl.init)).run()
