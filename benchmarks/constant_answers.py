"""The blind baseline: every answer the text interface allows, repeated every turn, on the evaluation's seeds.

    python benchmarks/constant_answers.py                  # the main job's levels, seeds and turn limit
    python benchmarks/constant_answers.py env.levels=[1,2,3]

Prints x-progress per level (mean ± s.e.) for each constant answer and, last, the best one's average
as `best_constant_answer: <value>`, to read beside the SFT and RL rows of `eval/results.md`.
"""

from __future__ import annotations

import sys

import gb_gym
from gb_gym.actions import button_sets
from vlm_rl.cli import compose
from vlm_rl.envs import make_env
from vlm_rl.report.stats import markdown_table
from vlm_rl.rollout import by_label, eval_jobs, run_episodes


def main(overrides: list[str]) -> None:
    cfg = compose(["+exp=hopland", *overrides])
    e = cfg.eval
    answers = button_sets(gb_gym.get_spec(cfg.env.game).max_buttons)  # every press an answer can make
    envs = [make_env(cfg.env) for _ in range(8)]
    results = {}
    for buttons in answers:
        jobs, labels = eval_jobs(list(e.levels), e.episodes, e.seed)
        eps = run_episodes(envs, lambda frames, infos, b=buttons: [(list(b), None)] * len(frames), jobs,
                           max_turns=e.max_turns, keep_steps=False)
        results["+".join(buttons) or "noop"] = {lv: [float(ep.progress) for ep in g]
                                                for lv, g in by_label(eps, labels).items()}
    for env in envs:
        env.close()
    print(f"x-progress within {e.max_turns} turns, {e.episodes} episodes per level, seeds {e.seed}...:")
    print(markdown_table(results, title="Constant answer"))
    avg = {name: sum(sum(v) / len(v) for v in r.values()) / len(r) for name, r in results.items()}
    best = max(avg, key=avg.get)
    print(f"\nbest constant answer: {best}")
    print(f"best_constant_answer: {avg[best]:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
