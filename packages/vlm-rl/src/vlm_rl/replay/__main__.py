"""python -m vlm_rl.replay RUN_DIR [--out FILE] [--episodes N]: write the run's replay viewer (one HTML file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import OmegaConf

from ..config import EnvCfg
from ..envs import make_env
from ..runs import RunDir
from .page import write_page
from .record import read_replay
from .render import ReplayMismatch


def run_env_cfg(run: RunDir) -> EnvCfg:
    """The env config the run was trained with (its saved config.yaml)."""
    if not run.config.is_file():
        raise FileNotFoundError(f"{run.config} is missing: {run.root} is not a run folder of vlm_rl.train")
    saved = OmegaConf.load(run.config)
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(EnvCfg), saved.env))


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(prog="python -m vlm_rl.replay", description=__doc__)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="the HTML file (default: RUN_DIR/replay.html)")
    ap.add_argument("--episodes", type=int, default=24,
                    help="most episodes shown per RL step / policy, spread over progress (default 24)")
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error(f"--episodes={args.episodes}: expected at least 1")
    run = RunDir(args.run_dir)
    paths = run.replays()
    if not paths:
        raise FileNotFoundError(f"{run.root} holds no replays (rl/replays/, eval/replays/): train with "
                                "replay.rl_every > 0 or replay.eval=true, with a version that records them")
    env = make_env(run_env_cfg(run), ram_info=True)
    try:
        out = write_page([read_replay(p) for p in paths], env, args.out or run.replay_page,
                         title=f"Replays of {run.root.resolve().name}", max_episodes=args.episodes)
    finally:
        env.close()
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(paths)} replay files)")
    return out


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError, ReplayMismatch) as e:
        sys.exit(f"error: {e}")
