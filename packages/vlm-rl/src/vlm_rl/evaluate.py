"""Stage 4: evaluate policies on levels (and saved start states), on the same seeds for every policy.

Writes `eval/results.{md,csv,json}` (mean ± standard error of x-progress per level,
the shape of the paper's Table 2), `eval/perception.json` (how often each policy's
`<perception>` agrees with the RAM) and a GIF of the best and the median episode
per policy.

    python -m vlm_rl.evaluate eval.policies=[sft,rl] eval.episodes=256 eval.decoding=both
    python -m vlm_rl.evaluate eval.policies=[runs/x/rl/policy] eval.levels=[4]   # any saved policy
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from tqdm.auto import tqdm

from .envs import make_env
from .episodes import Episode, Job, run_episodes
from .rollout import ActorPolicy
from .stats import markdown_table, write_tables
from .teacher import perception_fidelity

log = logging.getLogger(__name__)


def _compress(ep: Episode) -> None:
    """Keep what evaluation reports (PNG frames, perception pairs), drop token ids and raw frames."""
    pngs, pairs = [], []
    for t in ep.turns:
        buf = io.BytesIO()
        Image.fromarray(t.frame).save(buf, format="PNG")
        pngs.append(buf.getvalue())
        d = t.extra
        if d is not None and d.scene is not None:
            pairs.append((d.turn.parsed.perception, d.scene))
    ep.turns = []
    ep.pngs, ep.perception_pairs = pngs, pairs  # type: ignore[attr-defined]


def evaluate_actor(actor, env_cfg: Any, levels: list[str], episodes: int, seed: int, max_turns: int,
                   n_envs: int = 8, greedy: bool = False, states: list[str] | None = None,
                   envs: list | None = None, format_penalty: float = -100.0,
                   desc: str | None = None) -> dict[str, list[Episode]]:
    """`episodes` episodes per level (seeds seed, seed+1, ...) and per saved state file; by level name."""
    own = envs is None
    envs = envs or [make_env(env_cfg) for _ in range(n_envs)]
    jobs = [Job(level=lv, seed=seed + i) for lv in levels for i in range(episodes)]
    labels = list(levels)
    for path in states or []:
        state = Path(path).read_bytes()
        label = f"state:{Path(path).stem}"
        labels.append(label)
        # the level a state belongs to is read from its RAM once loaded; the job's level only names it
        jobs += [Job(level=str(env_cfg.levels[0]), seed=seed + i, group=len(labels) - 1, state=state)
                 for i in range(episodes)]
    was_training = actor.model.training
    actor.model.eval()
    bar = tqdm(total=len(jobs), desc=desc or "eval", unit="episode", disable=desc is None)

    def done(ep: Episode) -> None:
        _compress(ep)
        bar.update(1)

    try:
        eps = run_episodes(envs, ActorPolicy(actor, envs, greedy=greedy), jobs, max_turns=max_turns,
                           format_penalty=format_penalty, on_episode=done)
    finally:
        bar.close()
        actor.model.train(was_training)
        if own:
            for e in envs:
                e.close()
    out: dict[str, list[Episode]] = {lb: [] for lb in labels}
    for ep in eps:
        label = labels[ep.job.group] if ep.job.state is not None else ep.job.level
        out[label].append(ep)
    return out


def save_episode_gif(ep: Episode, path: Path, scale: int = 2, fps: int = 12) -> Path:
    frames = [Image.open(io.BytesIO(b)) for b in ep.pngs]  # type: ignore[attr-defined]
    frames = [f.resize((f.width * scale, f.height * scale), Image.NEAREST) for f in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    return path


def _policy_dir(cfg: Any, name: str) -> str | None:
    from .rl import policy_path as rl_policy
    from .sft import policy_path as sft_policy

    return {"base": None, "sft": str(sft_policy(cfg)), "rl": str(rl_policy(cfg))}.get(name, name)


def evaluate(cfg: Any) -> dict[str, Any]:
    """Evaluate every policy in eval.policies; write tables, perception fidelity and GIFs under OUT/eval."""
    from .policy_io import load_model, make_actor, pick_device

    e = cfg.eval
    out_dir = Path(cfg.out_dir) / "eval"
    device = pick_device(str(cfg.device))
    levels = [str(lv) for lv in e.levels]
    results: dict[str, dict[str, list[float]]] = {}
    fidelity: dict[str, dict[str, float]] = {}
    if e.decoding not in ("sampled", "greedy", "both"):
        raise ValueError(f"invalid eval.decoding={e.decoding!r}: expected sampled, greedy or both")
    modes = ["sampled", "greedy"] if e.decoding == "both" else [str(e.decoding)]
    for name in e.policies:
        model, processor, _ = load_model(cfg.model, device, checkpoint=_policy_dir(cfg, str(name)))
        actor = make_actor(model, processor, str(cfg.env.game), cfg.model, cfg.rl)
        for mode in modes:
            torch.manual_seed(int(e.seed))  # every policy samples from the same random stream, not just the same levels
            per_level = evaluate_actor(actor, cfg.env, levels, int(e.episodes), seed=int(e.seed),
                                       max_turns=int(e.max_turns), n_envs=int(cfg.rl.envs), greedy=mode == "greedy",
                                       states=list(e.states), format_penalty=float(cfg.rl.format_penalty),
                                       desc=f"eval {name} ({mode})")
            label = str(name).upper() if name in ("base", "sft", "rl") else Path(str(name)).name
            label += f" ({mode})" if len(modes) > 1 else ""
            results[label] = {lv: [float(ep.progress) for ep in eps] for lv, eps in per_level.items()}
            everything = [ep for eps in per_level.values() for ep in eps]
            pairs = [p for ep in everything for p in ep.perception_pairs]  # type: ignore[attr-defined]
            fidelity[label] = {**perception_fidelity(pairs),
                               "format_error_rate": sum(ep.format_errors for ep in everything)
                               / max(sum(ep.n_turns for ep in everything), 1)}
            if e.video and everything:
                ranked = sorted(everything, key=lambda ep: ep.progress)
                stem = label.lower().replace(" (", "_").rstrip(")")
                save_episode_gif(ranked[-1], out_dir / f"{stem}_best.gif")
                save_episode_gif(ranked[len(ranked) // 2], out_dir / f"{stem}_median.gif")
        del model, actor
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


def main() -> None:
    from .cli import hydra_main

    hydra_main(evaluate, stages=("eval",))


if __name__ == "__main__":
    main()
