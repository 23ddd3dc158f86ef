"""Frames re-made from a replay record by playing its actions through the (deterministic) emulator."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ..perception import scene_facts
from .record import decode_state


class ReplayMismatch(RuntimeError):
    pass


def render(env: gym.Env, episode: dict[str, Any]) -> list[np.ndarray]:
    """The frame each turn decided on, then the frame after the last turn (len(turns) + 1 frames).

    The env must be made as the run made it (the run's env config, `ram_info=True`). The replay checks
    itself: each step's reward and the RAM facts of each frame must be those recorded, else
    ReplayMismatch (the env or the ROM differs from the run's)."""
    options: dict[str, Any] = {"level": episode["level"]}
    state = decode_state(episode["state"])
    if state is not None:
        options["state"] = state
    obs, info = env.reset(seed=episode["seed"], options=options)
    frames = []
    for t, turn in enumerate(episode["turns"]):
        where = f"level {episode['level']} seed {episode['seed']} turn {t}"
        if turn["ram"] is not None and info.get("scene") is not None and scene_facts(info["scene"]) != turn["ram"]:
            raise ReplayMismatch(f"{where}: the RAM reads {scene_facts(info['scene'])}, the run recorded "
                                 f"{turn['ram']}; replay with the run's env config and ROM")
        frames.append(obs)
        if turn["action"] is None:  # invalid answer: the env was not stepped
            continue
        obs, reward, _, _, info = env.step(turn["action"])
        if not np.isclose(reward, turn["reward"], atol=1e-4):
            raise ReplayMismatch(f"{where}: reward {reward} replayed, {turn['reward']} recorded; "
                                 "replay with the run's env config and ROM")
    frames.append(obs)
    return frames
