"""Play episodes with a game's scripted player (or random actions) and save them as a GIF."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from .games import get_spec


def play_episode(env: gym.Env, seed: int, max_turns: int | None = None) -> tuple[list[np.ndarray], dict]:
    """One episode on an env made with actions="buttons"; the scripted player if the game has one."""
    base = env.unwrapped
    obs, info = env.reset(seed=seed)
    frames, turns = [obs], 0
    while True:
        buttons = base.spec_game.scripted_buttons(base.pyboy)
        if buttons is None:
            buttons = env.action_space.sample()
        obs, _, terminated, truncated, info = env.step(list(buttons))
        frames.append(obs)
        turns += 1
        if terminated or truncated or (max_turns and turns >= max_turns):
            return frames, info


def save_gif(frames: list[np.ndarray], path: str | Path, scale: int = 2, fps: int = 12) -> Path:
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f.squeeze()).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def run_demo(game: str = "hopland", level: str | None = None, episodes: int = 1, seed: int = 0, gif: str = "gameplay.gif") -> None:
    spec = get_spec(game)
    env = gym.make(spec.env_id, actions="buttons", level=level)
    all_frames = []
    for ep in range(episodes):
        frames, info = play_episode(env, seed=seed + ep)
        all_frames += frames
        end = "level complete" if info["level_complete"] else ("died" if info["dying"] or info["game_over"] else "time limit")
        print(f"episode {ep}: level {info['level']}, max x {info['max_x']}, {len(frames) - 1} turns, {end}")
    env.close()
    print(f"wrote {save_gif(all_frames, gif)}")
