"""The blind baseline: every answer the text interface allows (each button set of at most the game's
`max_buttons`, and noop), repeated every turn, on the evaluation's jobs (levels, seeds, turn limit).

A policy that reads the screen should beat the best of these; the evaluation stage adds that one as a
row (`eval.constant_baseline`), and `benchmarks/constant_answers.py` prints them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gymnasium as gym

from ..play import Play
from ..rollout import Episode, eval_jobs
from .reference import allowed_answers, plays


def answer_name(buttons: Sequence[str]) -> str:
    return "+".join(buttons) or "noop"


def constant_policy(buttons: Sequence[str]):
    """`rollout.Policy` answering `buttons` on every frame."""
    return lambda frames, infos: [(list(buttons), None)] * len(frames)


def constant_answers(game: str, envs: Sequence[gym.Env], levels: Sequence[str], episodes: int, seed: int,
                     max_turns: int, states: Sequence[str] = (), on_episode: Callable[[Episode], None] | None = None,
                     answers: Sequence[Sequence[str]] | None = None) -> dict[str, dict[str, list[Play]]]:
    """Each answer's episodes' `Play`, by answer name ('a+right', 'noop', ...) and level (or saved state),
    on the jobs `rollout.eval_jobs(levels, episodes, seed, states)` makes: the evaluation's.
    `answers`: the button sets to play; None: every one `allowed_answers(game)` lists."""
    jobs = eval_jobs(levels, episodes, seed, states)  # the same jobs (and state files read once) for all
    return {answer_name(buttons): plays(envs, constant_policy(buttons), levels, episodes, seed, max_turns,
                                        on_episode=on_episode, jobs=jobs)
            for buttons in (allowed_answers(game) if answers is None else answers)}


def best_answer(results: dict[str, dict[str, list[Play]]]) -> str:
    """The answer with the highest mean x-progress, each level weighing the same (the tables' 'Avg.');
    the first in canonical order on a tie."""
    def avg(per: dict[str, list[Play]]) -> float:
        return sum(sum(p.progress for p in ps) / len(ps) for ps in per.values()) / len(per)

    return max(results, key=lambda name: avg(results[name]))
