"""The blind baseline: every answer the text interface allows, repeated every turn, on the evaluation's seeds.

    python benchmarks/constant_answers.py                  # the main job's levels, seeds and turn limit
    python benchmarks/constant_answers.py env.levels=[1,2,3]

Prints x-progress per level (mean ± s.e.) for each constant answer and, last, the best one's average
as `best_constant_answer: <value>`. The evaluation stage adds the best one as a row of `eval/results.md`
itself (`eval.constant_baseline`, `vlm_rl.baselines.constant`); this prints every answer.
"""

from __future__ import annotations

import sys

from vlm_rl.baselines.constant import best_answer, constant_answers
from vlm_rl.cli import compose
from vlm_rl.envs import make_env
from vlm_rl.report.stats import markdown_table, table_rows


def main(overrides: list[str]) -> None:
    cfg = compose(["+exp=hopland", *overrides])
    e = cfg.eval
    envs = [make_env(cfg.env) for _ in range(8)]
    answers = constant_answers(cfg.env.game, envs, list(e.levels), e.episodes, e.seed, e.max_turns)
    for env in envs:
        env.close()
    results = {name: {lv: [float(p.progress) for p in ps] for lv, ps in per.items()} for name, per in answers.items()}
    print(f"x-progress within {e.max_turns} turns, {e.episodes} episodes per level, seeds {e.seed}...:")
    print(markdown_table(results, title="Constant answer"))
    best = best_answer(answers)
    _, rows = table_rows({best: results[best]})
    print(f"\nbest constant answer: {best}")
    print(f"best_constant_answer: {rows[0][-1].mean:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
