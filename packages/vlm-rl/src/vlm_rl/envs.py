"""Making gb-gym envs from the `env` config group."""

from __future__ import annotations

import gymnasium as gym

import gb_gym

from .config import EnvCfg


def env_kwargs(env_cfg: EnvCfg, actions: str = "buttons") -> dict:
    kwargs = dict(
        actions=actions,
        reward_scale=float(env_cfg.reward_scale),
        reward_per=str(env_cfg.reward_per),
        death_penalty=float(env_cfg.death_penalty),
        terminate_on=str(env_cfg.terminate_on),
        frame_skip=tuple(int(x) for x in env_cfg.frame_skip),
    )
    if env_cfg.rom_path is not None:  # null: the game's own default (the registration's rom_path, or its ROM)
        kwargs["rom_path"] = env_cfg.rom_path
    return kwargs


def make_env(env_cfg: EnvCfg, level: str | None = None, actions: str = "buttons", max_turns: int | None = None,
             ram_info: bool = False) -> gym.Env:
    """One env of the configured game. Turn limits are the caller's (episode runner) unless `max_turns` is given.
    `ram_info=True`: every info carries the RAM's `scene` and the scripted player's decision for its frame.
    `env.game` is resolved here, in whichever process makes the env (SB3's subprocess workers too): a game of an
    installed package by its entry point, a `package.module:SpecClass` by importing it."""
    spec = gb_gym.get_spec(str(env_cfg.game))
    return gym.make(
        spec.env_id,
        level=level if level is not None else str(env_cfg.levels[0]),
        max_episode_steps=max_turns or 10**9,
        ram_info=ram_info,
        **env_kwargs(env_cfg, actions),
    )


def check_game(env_cfg: EnvCfg) -> None:
    """Fail fast, before any model loads, when the game's ROM is missing or wrong (making an env checks it;
    the levels were checked with the config)."""
    make_env(env_cfg).close()
