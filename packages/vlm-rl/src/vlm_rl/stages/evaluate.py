"""Stage 4: evaluate policies on levels (and saved start states), on the same seeds for every policy.

Writes `eval/results.{md,csv,json}`: mean ± standard error per level of x-progress within
the turn limit (the shape of the paper's Table 2), of x-progress within a budget of emulator
frames, of level completion and of deaths, and how often each policy jumps with a hazard near
and on clear ground (`vlm_rl.play`); with `eval.constant_baseline` a row for the best answer
repeated every turn (`vlm_rl.baselines.constant`), and rows for random answers and the game's
scripted player (`eval.random_baseline`, `eval.scripted_baseline`, `vlm_rl.baselines.reference`). Also `eval/perception.json` (how often each
policy's `<perception>` agrees with the RAM), `eval/summary.txt` (printed at the end) and a GIF
of the best and the median episode per policy.

    python -m vlm_rl.train stages=[eval] eval.policies=[sft,rl] eval.episodes=256 eval.decoding=both
    python -m vlm_rl.train stages=[eval] eval.policies=[runs/x/rl/policy] eval.levels=[4]   # any saved policy
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

import gb_gym
from gb_gym.demo import save_gif

from ..baselines import reference
from ..baselines.constant import best_answer, constant_answers
from ..config import Config
from ..envs import make_env
from ..models.policy import load_model, make_actor, pick_device
from ..perception import NEAR_TILES, perception_fidelity
from ..play import Play, jump_rates, per_episode, play_of
from ..replay.record import eval_record, write_replay
from ..report.stats import Metric, tables_markdown, write_tables
from ..rollout import Episode, evaluate_actor
from ..runs import RunDir

log = logging.getLogger(__name__)


def _png(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def _gif(pngs: list[bytes], path: Path) -> None:
    save_gif([np.asarray(Image.open(io.BytesIO(b))) for b in pngs], path)


def _compress(ep: Episode, cfg: Config) -> None:
    """Keep what evaluation reports (PNG frames, perception pairs, the play metrics, the replay record), drop
    token ids and raw frames."""
    ep.play = play_of(ep)  # type: ignore[attr-defined]
    if cfg.replay.eval:
        ep.replay = eval_record(ep, cfg.algo.gamma)  # type: ignore[attr-defined]
    ep.pngs = [_png(s.frame) for s in ep.steps]  # type: ignore[attr-defined]
    ep.perception_pairs = [(s.record.parsed.perception, s.scene)  # type: ignore[attr-defined]
                           for s in ep.steps if s.scene is not None]
    ep.steps = []


def frame_budget(cfg: Config) -> int:
    """eval.frame_budget, or the turn limit in the short (no-jump) turn's frames: a policy that holds 'a'
    plays 3x longer turns, so the budget is what a walking policy gets, not what jumping could take."""
    if cfg.eval.frame_budget is not None:
        return int(cfg.eval.frame_budget)
    return int(cfg.eval.max_turns) * int(cfg.env.frame_skip[0])


def play_tables(plays: dict[str, dict[str, list[Play]]], budget: int, frame_skip: tuple[int, int]
                ) -> tuple[dict[str, Metric], dict[str, dict[str, float | int | None]]]:
    """The per-level play metrics (progress within `budget` frames, completion, deaths) of every row, as
    `write_tables` extras, and each row's jump rates (over every level) as its scalars."""
    per_row = {label: per_episode(per, budget) for label, per in plays.items()}
    headings = {"progress_budget": (f"x-progress within {budget} emulator frames (a turn lasts {frame_skip[0]} "
                                    f"frames, {frame_skip[1]} with 'a' held)", 1),
                "completion": ("Level completion (% of episodes)", 1), "deaths": ("Deaths per episode", 2)}
    extra = {key: Metric(heading, {label: m[key] for label, m in per_row.items()}, digits)
             for key, (heading, digits) in headings.items()}
    scalars = {label: jump_rates([p for ps in per.values() for p in ps]) for label, per in plays.items()}
    return extra, scalars


JUMPS_HEADING = (f"Jump answers ('a' held) on the ground: share with a pit or wall within {NEAR_TILES} tiles ahead "
                 "(hazard near) and with no hazard or enemy near (clear ground), over every level")


def evaluate(cfg: Config) -> dict[str, Any]:
    """Evaluate every policy in eval.policies; write tables, perception fidelity and GIFs under RUN/eval."""
    e = cfg.eval
    run = RunDir(cfg.out_dir)
    out_dir = run.eval
    device = pick_device(cfg.device)
    levels = list(e.levels)
    plays: dict[str, dict[str, list[Play]]] = {}
    fidelity: dict[str, dict[str, float]] = {}
    modes = ["sampled", "greedy"] if e.decoding == "both" else [e.decoding]
    # one pool for every policy: a reset with a seed gives the same frames on a used env as on a fresh one
    envs = [make_env(cfg.env, ram_info=True) for _ in range(cfg.rl.envs)]
    for name in e.policies:
        model, processor, _ = load_model(cfg.model, device, checkpoint=run.policy(name))
        actor = make_actor(model, processor, cfg.env.game, cfg.model, cfg.rl)
        for mode in modes:
            torch.manual_seed(e.seed)  # every policy samples from the same random stream, not just the same levels
            n_jobs = len(levels + list(e.states)) * e.episodes
            with tqdm(total=n_jobs, desc=f"eval {name} ({mode})", unit="episode") as bar:
                per_level = evaluate_actor(actor, envs, levels, e.episodes, seed=e.seed, max_turns=e.max_turns,
                                           greedy=mode == "greedy", states=list(e.states),
                                           format_penalty=cfg.rl.format_penalty,
                                           on_episode=lambda ep: (_compress(ep, cfg), bar.update(1)))
            label = name.upper() if name in ("base", "sft", "rl") else Path(name).name
            label += f" ({mode})" if len(modes) > 1 else ""
            plays[label] = {lv: [ep.play for ep in eps] for lv, eps in per_level.items()}  # type: ignore[attr-defined]
            everything = [ep for eps in per_level.values() for ep in eps]
            if cfg.replay.eval and everything:
                write_replay(run.eval_replay(label), [ep.replay for ep in everything],  # type: ignore[attr-defined]
                             kind="eval", title=label, policy=name)
            pairs = [p for ep in everything for p in ep.perception_pairs]  # type: ignore[attr-defined]
            fidelity[label] = {**perception_fidelity(pairs),
                               "format_error_rate": sum(ep.format_errors for ep in everything)
                               / max(sum(ep.n_turns for ep in everything), 1)}
            if e.video and everything:
                ranked = sorted(everything, key=lambda ep: ep.progress)
                stem = label.lower().replace(" (", "_").rstrip(")")
                _gif(ranked[-1].pngs, out_dir / f"{stem}_best.gif")  # type: ignore[attr-defined]
                _gif(ranked[len(ranked) // 2].pngs, out_dir / f"{stem}_median.gif")  # type: ignore[attr-defined]
        del model, actor
    constant = ""
    if e.constant_baseline:  # no model: every allowed answer on the same jobs, the best one kept as a row
        n_answers = len(reference.allowed_answers(cfg.env.game))
        with tqdm(total=n_answers * len(levels + list(e.states)) * e.episodes, desc="eval constant answers",
                  unit="episode") as bar:
            answers = constant_answers(cfg.env.game, envs, levels, e.episodes, e.seed, e.max_turns,
                                       states=list(e.states), on_episode=lambda ep: bar.update(1))
        best = best_answer(answers)
        constant = f"best constant: {best}"
        plays[constant] = answers[best]
    rows = {}
    if e.random_baseline:
        rows["random answers"] = reference.random_policy(cfg.env.game, e.seed)
    if e.scripted_baseline and gb_gym.get_spec(cfg.env.game).has_scripted_player:
        rows["scripted player"] = reference.scripted_policy
    for label, policy in rows.items():
        with tqdm(total=len(levels + list(e.states)) * e.episodes, desc=f"eval {label}", unit="episode") as bar:
            plays[label] = reference.plays(envs, policy, levels, e.episodes, e.seed, e.max_turns,
                                           states=list(e.states), on_episode=lambda ep: bar.update(1))
    for env in envs:
        env.close()
    # x-progress within the turn limit, every row (the first table)
    results = {label: {lv: [float(p.progress) for p in ps] for lv, ps in by_level.items()}
               for label, by_level in plays.items()}
    budget = frame_budget(cfg)
    extra, jumps = play_tables(plays, budget, (int(cfg.env.frame_skip[0]), int(cfg.env.frame_skip[1])))
    paths = write_tables(results, out_dir, "results", extra=extra, scalars=jumps, scalars_heading=JUMPS_HEADING)
    (out_dir / "perception.json").write_text(json.dumps(fidelity, indent=1))
    how = {"greedy": "greedy decoding", "sampled": f"sampled at temperature {cfg.rl.temperature}",
           "both": f"sampled at temperature {cfg.rl.temperature} and greedy"}[str(e.decoding)]
    lines = [f"x-progress within {e.max_turns} turns per level, mean ± standard error over {e.episodes} episodes "
             f"each ({how}; same seeds for every policy"
             + (f"; '{constant}': the best of {n_answers} answers repeated every turn" if constant else "")
             + ("; 'scripted player': the RAM teacher's actions" if "scripted player" in results else "") + "):",
             tables_markdown(results, extra=extra, scalars=jumps, scalars_heading=JUMPS_HEADING), "",
             "Perception fidelity (share of turns whose <perception> matches the RAM):"]
    for label, f in fidelity.items():
        if "perception_exact" in f:
            lines.append(f"  {label}: exact {100 * f['perception_exact']:.1f}%, stance {100 * f['perception_stance']:.1f}%, "
                         f"hazard {100 * f['perception_hazard']:.1f}%, enemy {100 * f['perception_enemy']:.1f}%; "
                         f"format errors {100 * f['format_error_rate']:.1f}%")
    summary = "\n".join(lines)
    (out_dir / "summary.txt").write_text(summary + "\n")
    print(summary, flush=True)
    return {"results": results, "play": {key: m.values for key, m in extra.items()}, "jumps": jumps,
            "fidelity": fidelity, "paths": {k: str(v) for k, v in paths.items()}}
