"""Rows with no model that an evaluation table carries beside the trained policies, on the same jobs.

- Random answers: each turn, one of the answers the text interface allows (`allowed_answers` below),
  drawn uniformly from a generator seeded with the evaluation's seed.
- The scripted player: the RAM-reading player whose buttons the RAM teacher writes into the SFT data. Its
  row is what imitating the teacher perfectly would reach, the ceiling SFT aims at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gymnasium as gym
import numpy as np

import gb_gym
from gb_gym.actions import button_sets

from ..play import Play, play_of
from ..rollout import Episode, Policy, by_label, eval_jobs, run_episodes


def allowed_answers(game: str) -> tuple[tuple[str, ...], ...]:
    """Every distinct press a text answer can make in `game`: noop and each set of up to max_buttons buttons."""
    return button_sets(gb_gym.get_spec(game).max_buttons)


def random_policy(game: str, seed: int) -> Policy:
    """`rollout.Policy` answering a uniformly random allowed answer every turn (seeded: the same draws per run)."""
    answers = allowed_answers(game)
    rng = np.random.default_rng(seed)
    return lambda frames, infos: [(list(answers[int(rng.integers(len(answers)))]), None) for _ in frames]


def scripted_policy(frames, infos) -> list[tuple[list[str], None]]:
    """`rollout.Policy` pressing what the game's scripted player decides (the env's `info["scripted"]`)."""
    out = []
    for info in infos:
        if info.get("scripted") is None:
            raise ValueError("The env gives no scripted decision: the scripted row needs a game with a scripted "
                             "player (GameSpec.scripted_decision) and envs made with ram_info=True.")
        out.append((list(info["scripted"][0]), None))
    return out


def plays(envs: Sequence[gym.Env], policy: Policy, levels: Sequence[str], episodes: int, seed: int,
          max_turns: int, states: Sequence[str] = (), on_episode: Callable[[Episode], None] | None = None,
          jobs=None) -> dict[str, list[Play]]:
    """Each episode's `Play` by level (or saved state), on `rollout.eval_jobs(levels, episodes, seed, states)`
    (or the given `(jobs, labels)`): the evaluation's jobs. Frames are dropped as episodes end."""
    jobs, labels = jobs or eval_jobs(levels, episodes, seed, states)

    def keep(ep: Episode) -> None:
        ep.play = play_of(ep)  # type: ignore[attr-defined]
        ep.steps = []
        if on_episode is not None:
            on_episode(ep)

    eps = run_episodes(envs, policy, jobs, max_turns=max_turns, on_episode=keep)
    return {lv: [ep.play for ep in g] for lv, g in by_label(eps, labels).items()}  # type: ignore[attr-defined]
