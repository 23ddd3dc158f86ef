"""Stage 4: evaluate policies on levels (and saved start states), on the same seeds for every policy.

Writes `eval/results.{md,csv,json}` (mean ± standard error of x-progress per level,
the shape of the paper's Table 2), `eval/perception.json` (how often each policy's
`<perception>` agrees with the RAM) and a GIF of the best and the median episode
per policy.

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

from gb_gym.demo import save_gif

from ..config import Config
from ..envs import make_env
from ..models.policy import load_model, make_actor, pick_device
from ..perception import perception_fidelity
from ..replay.record import eval_record, write_replay
from ..report.stats import markdown_table, write_tables
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
    """Keep what evaluation reports (PNG frames, perception pairs, the replay record), drop token ids and
    raw frames."""
    if cfg.replay.eval:
        ep.replay = eval_record(ep, cfg.algo.gamma)  # type: ignore[attr-defined]
    ep.pngs = [_png(s.frame) for s in ep.steps]  # type: ignore[attr-defined]
    ep.perception_pairs = [(s.record.parsed.perception, s.scene)  # type: ignore[attr-defined]
                           for s in ep.steps if s.scene is not None]
    ep.steps = []


def evaluate(cfg: Config) -> dict[str, Any]:
    """Evaluate every policy in eval.policies; write tables, perception fidelity and GIFs under RUN/eval."""
    e = cfg.eval
    run = RunDir(cfg.out_dir)
    out_dir = run.eval
    device = pick_device(cfg.device)
    levels = list(e.levels)
    results: dict[str, dict[str, list[float]]] = {}
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
            results[label] = {lv: [float(ep.progress) for ep in eps] for lv, eps in per_level.items()}
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
    for env in envs:
        env.close()
    paths = write_tables(results, out_dir, "results")
    (out_dir / "perception.json").write_text(json.dumps(fidelity, indent=1))
    table = markdown_table(results)
    how = {"greedy": "greedy decoding", "sampled": f"sampled at temperature {cfg.rl.temperature}",
           "both": f"sampled at temperature {cfg.rl.temperature} and greedy"}[str(e.decoding)]
    lines = [f"x-progress per level, mean ± standard error over {e.episodes} episodes each "
             f"({how}; same seeds for every policy):",
             table, "", "Perception fidelity (share of turns whose <perception> matches the RAM):"]
    for label, f in fidelity.items():
        if "perception_exact" in f:
            lines.append(f"  {label}: exact {100 * f['perception_exact']:.1f}%, stance {100 * f['perception_stance']:.1f}%, "
                         f"hazard {100 * f['perception_hazard']:.1f}%, enemy {100 * f['perception_enemy']:.1f}%; "
                         f"format errors {100 * f['format_error_rate']:.1f}%")
    summary = "\n".join(lines)
    (out_dir / "summary.txt").write_text(summary + "\n")
    print(summary, flush=True)
    return {"results": results, "fidelity": fidelity, "paths": {k: str(v) for k, v in paths.items()}}
