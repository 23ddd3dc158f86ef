"""SB3 PPO `CnnPolicy` baselines on the very same envs, rewards and frame-skip (the paper's Section 5).

The paper's Table 6 settings are the defaults of `conf/sb3.yaml`; a `+exp=` file
scales them for a CPU. Levels are drawn uniformly per episode (`LevelSampler`),
evaluation runs every `eval.every` samples on each evaluation level, and the
learning curve is written in vlm-rl's curve format, so one plot compares them.

    python -m vlm_rl.baselines.sb3 actions=engineered total_samples=2000000
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from gb_gym.wrappers import LevelSampler

from ..config import EnvCfg, SB3Config
from ..envs import make_env
from ..report.curves import CurveWriter
from ..rollout import by_label, eval_jobs, run_episodes
from ..runs import RunDir

log = logging.getLogger(__name__)


def _make_train_env(env_cfg: EnvCfg, actions: str):
    def make():  # runs in each worker process: make_env resolves env.game there (entry point or module:Spec)
        env = make_env(env_cfg, actions=actions, max_turns=int(env_cfg.max_turns))
        return LevelSampler(env, [str(lv) for lv in env_cfg.levels])

    return make


def sb3_policy(model):
    """`rollout.Policy` for an SB3 model: stochastic actions, as the paper evaluates."""

    def act(frames, infos):
        actions, _ = model.predict(np.stack(frames), deterministic=False)
        return [(int(a), None) for a in actions]

    return act


def evaluate_sb3(model, envs: list, levels: list[str], episodes: int, seed: int, max_turns: int
                 ) -> dict[str, list[float]]:
    """x-progress per level on the same jobs (levels, seeds) as the VLM's evaluation."""
    jobs, labels = eval_jobs(levels, episodes, seed)
    eps = run_episodes(envs, sb3_policy(model), jobs, max_turns=max_turns, keep_steps=False)
    return {lv: [float(ep.progress) for ep in group] for lv, group in by_label(eps, labels).items()}


def train_sb3(cfg: SB3Config) -> Path:
    """Train and evaluate; returns the run directory (model.zip, curve.jsonl, tb/)."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    actions = cfg.actions
    p = cfg.ppo
    n_envs = cfg.n_envs
    torch.set_num_threads(int(cfg.threads))
    fns = [_make_train_env(cfg.env, actions) for _ in range(n_envs)]
    venv = SubprocVecEnv(fns) if n_envs > 1 and cfg.subproc else DummyVecEnv(fns)
    venv.seed(int(cfg.seed))
    model = PPO(
        "CnnPolicy", venv, n_steps=int(p.batch_size) // n_envs, batch_size=int(p.minibatch_size),
        n_epochs=int(p.epochs), learning_rate=float(p.lr), gamma=float(p.gamma), gae_lambda=float(p.gae_lambda),
        clip_range=float(p.clip_range), clip_range_vf=float(p.clip_range_vf), max_grad_norm=float(p.max_grad_norm),
        target_kl=float(p.target_kl) if p.target_kl else None, ent_coef=float(p.ent_coef), seed=int(cfg.seed),
        device=str(cfg.device), tensorboard_log=str(out / "tb"), verbose=0,
    )
    method = f"sb3_ppo_{actions}"
    curve = CurveWriter(RunDir(out).sb3_curve, method, cfg.seed)
    e = cfg.eval
    eval_envs = [make_env(cfg.env, actions=actions) for _ in range(int(e.envs))]
    levels = [str(lv) for lv in e.levels]

    class EvalEvery(BaseCallback):
        def __init__(self):
            super().__init__()
            self.next, self.last = 0, -1

        def _evaluate(self) -> None:
            if self.num_timesteps == self.last:
                return
            self.last = self.num_timesteps
            res = evaluate_sb3(self.model, eval_envs, levels, e.episodes, e.seed, e.max_turns)
            curve.write(self.num_timesteps, res)
            mean = np.mean([np.mean(v) for v in res.values()])
            self.logger.record("eval/progress_mean", float(mean))
            log.info("%s: %d samples, progress %.1f", method, self.num_timesteps, mean)
            while self.next <= self.num_timesteps:
                self.next += int(e.every)

        def _on_training_start(self) -> None:
            self._evaluate()

        def _on_rollout_start(self) -> None:
            # after the previous batch's update, so a row's policy is the one trained on its sample count
            if self.num_timesteps >= self.next:
                self._evaluate()

        def _on_step(self) -> bool:
            return True

    cb = EvalEvery()
    model.learn(total_timesteps=int(cfg.total_samples), callback=cb, progress_bar=bool(cfg.progress_bar))
    cb._evaluate()
    model.save(out / "model.zip")
    RunDir(out).sb3_done_marker.write_text(json.dumps({"samples": int(model.num_timesteps), "method": method}))
    venv.close()
    for env in eval_envs:
        env.close()
    return out


def main() -> None:
    from ..cli import hydra_main

    hydra_main(train_sb3, config_name="sb3")


if __name__ == "__main__":
    main()
