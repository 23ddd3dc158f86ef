"""The paper's comparisons as commands, each writing a table and a plot.

    python -m vlm_rl.compare algos               # Fig. 4a: the seven methods, progress vs samples, several seeds
    python -m vlm_rl.compare sample-efficiency   # Fig. 4b: VLM-RL vs SB3 PPO on both action spaces
    python -m vlm_rl.compare generalisation      # train on some levels, evaluate on a held-out one

Options come first (`--seeds 3 --out DIR`), then any Hydra overrides for the
runs (`rl.steps=30 +exp=hopland`). Runs that finished before are reused, so a
comparison can be stopped and started again. Each writes into `--out`:
`table.md` / `table.json`, `curves.png` (or `results.*`), and one folder per run.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from .algos import available_advantages
from .cli import compose, setup
from .report.curves import average_over_levels, plot_curves, read_curves, samples_to_reach
from .report.stats import mean_se
from .runs import RunDir

log = logging.getLogger(__name__)
SEVEN = ("ppo_pos", "ppo", "grpo_outcome_pos", "grpo_outcome", "grpo_process_pos", "grpo_process", "reinforce_pp")


def _train(overrides: list[str]) -> None:
    from .train import train

    cfg = compose(overrides)
    setup(cfg)
    train(cfg)


def _done(out: Path, stage: str) -> bool:
    return RunDir(out).done(stage)


def _warm_start(base: list[str], out: Path) -> Path:
    """Annotate and SFT once; every compared run starts RL from this policy."""
    if not _done(out, "sft"):
        _train(base + [f"out_dir={out}", "stages=[annotate,sft]", "resume=true"])
    return RunDir(out).sft_policy


def _final_points(by_run: dict[tuple[str, int], list[tuple[int, float]]]) -> dict[str, list[float]]:
    """method -> the last evaluation (level-averaged) of each seed."""
    out: dict[str, list[float]] = defaultdict(list)
    for (method, _), curve in by_run.items():
        out[method].append(curve[-1][1])
    return out


def compare_algos(out: Path, seeds: int, overrides: list[str], methods: tuple[str, ...]) -> dict:
    base = ["+exp=compare_algos", *overrides]
    init = _warm_start(base, out / "sft-init")
    curves = []
    for method in methods:
        for seed in range(seeds):
            run = out / f"{method}-s{seed}"
            if not _done(run, "rl"):
                _train(base + [f"algo={method}", f"seed={seed}", f"out_dir={run}", "stages=[rl]",
                               f"rl.init={init}", "resume=true"])
            curves.append(RunDir(run).curve)
    rows = read_curves(curves)
    by_run = average_over_levels(rows)
    finals = _final_points(by_run)
    lines = ["| method | final progress (mean ± s.e. over seeds) | seeds | best seed |", "|---|---|---|---|"]
    for method in methods:
        s = mean_se(finals[method])
        lines.append(f"| {method} | {s} | {s.n} | {max(finals[method]):.1f} |")
    start = np.mean([c[0][1] for c in by_run.values()])
    lines.append(f"\nSFT starting point (first evaluation, all runs): {start:.1f}")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    (out / "table.json").write_text(json.dumps({"final": finals, "start": float(start)}, indent=1))
    plot_curves(rows, out / "curves.png", title="Algorithms on Hopland: progress vs samples")
    print("\n".join(lines))
    return {"final": finals}


def compare_sample_efficiency(out: Path, seeds: int, overrides: list[str], target: float | None) -> dict:
    from .baselines.sb3 import train_sb3

    base = ["+exp=sample_efficiency", *overrides]
    init = _warm_start(base, out / "sft-init")
    curves = []
    for seed in range(seeds):
        run = out / f"vlm_ppo_pos-s{seed}"
        if not _done(run, "rl"):
            _train(base + [f"seed={seed}", f"out_dir={run}", "stages=[rl]", f"rl.init={init}", "resume=true"])
        curves.append(RunDir(run).curve)
    sb3_overrides = [o for o in overrides if o.split("=")[0].lstrip("+") in ("env", "env.levels", "env.max_turns")]
    for actions in ("engineered", "original"):
        for seed in range(seeds):
            run = out / f"sb3_{actions}-s{seed}"
            if not _done(run, "sb3"):
                cfg = compose(["+exp=sb3_cpu", f"actions={actions}", f"seed={seed}", f"out_dir={run}", *sb3_overrides],
                              config_name="sb3")
                setup(cfg)
                train_sb3(cfg)
            curves.append(RunDir(run).sb3_curve)
    rows = read_curves(curves)
    by_run = average_over_levels(rows)
    if target is None:  # default: 90% of the best final progress of the VLM runs
        target = 0.9 * max(c[-1][1] for (m, _), c in by_run.items() if not m.startswith("sb3"))
    table: dict[str, dict] = defaultdict(lambda: {"reached": [], "final": [], "samples": []})
    for (method, _), curve in by_run.items():
        table[method]["reached"].append(samples_to_reach(curve, target))
        table[method]["final"].append(curve[-1][1])
        table[method]["samples"].append(curve[-1][0])
    lines = [f"Target progress: {target:.1f} (level-averaged)", "",
             "| method | samples to reach the target (per seed) | final progress | samples trained |", "|---|---|---|---|"]
    for method, t in sorted(table.items()):
        reached = ", ".join("not reached" if r is None else f"{r:,}" for r in t["reached"])
        lines.append(f"| {method} | {reached} | {mean_se(t['final'])} | {max(t['samples']):,} |")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    (out / "table.json").write_text(json.dumps({"target": target, "methods": table}, indent=1))
    plot_curves(rows, out / "curves.png", title="Sample efficiency on Hopland", target=target)
    print("\n".join(lines))
    return {"target": target, "methods": dict(table)}


def compare_generalisation(out: Path, overrides: list[str]) -> dict:
    base = ["+exp=generalisation", *overrides]
    run = out / "run"
    if not _done(run, "eval"):
        _train(base + [f"out_dir={run}", "resume=true"])
    results = json.loads(RunDir(run).eval_results.read_text())
    cfg = compose(base + [f"out_dir={run}"])
    trained, held = list(cfg.env.levels), [lv for lv in cfg.eval.levels if lv not in cfg.env.levels]
    lines = ["| policy | trained levels (" + ", ".join(trained) + ") | held-out (" + ", ".join(held) + ") |", "|---|---|---|"]
    summary = {}
    for policy, r in results.items():
        tr = mean_se([v for lv in trained for v in r["values"][lv]])
        ho = mean_se([v for lv in held for v in r["values"][lv]])
        summary[policy] = {"trained": tr.mean, "held_out": ho.mean}
        lines.append(f"| {policy} | {tr} | {ho} |")
    text = "\n".join(lines) + "\n\nPer level: see run/eval/results.md\n"
    (out / "table.md").write_text(text)
    (out / "table.json").write_text(json.dumps(summary, indent=1))
    _plot_bars(results, trained, held, out / "generalisation.png")
    print(text)
    return summary


def _plot_bars(results: dict, trained: list[str], held: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = trained + held
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    width = 0.8 / len(results)
    for k, (policy, r) in enumerate(results.items()):
        stats = [mean_se(r["values"][lv]) for lv in levels]
        xs = np.arange(len(levels)) + k * width
        ax.bar(xs, [s.mean for s in stats], width, yerr=[s.se for s in stats], label=policy, capsize=3)
    ax.set_xticks(np.arange(len(levels)) + width * (len(results) - 1) / 2)
    ax.set_xticklabels([f"{lv}{' (held out)' if lv in held else ''}" for lv in levels])
    ax.set_ylabel("x-progress")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m vlm_rl.compare", description=__doc__.split("\n")[0])
    p.add_argument("which", choices=("algos", "sample-efficiency", "generalisation"))
    p.add_argument("--out", default=None, help="output folder (default runs/compare-<which>)")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--methods", default=",".join(SEVEN), help="comma-separated algorithms for `algos`")
    p.add_argument("--target", type=float, default=None, help="progress to reach for `sample-efficiency`")
    p.add_argument("overrides", nargs="*", help="Hydra overrides for every run")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s] %(message)s")
    out = Path(args.out or f"runs/compare-{args.which}")
    out.mkdir(parents=True, exist_ok=True)
    if args.which == "algos":
        methods = tuple(m for m in args.methods.split(",") if m)
        unknown = [m for m in methods if m not in available_advantages()]
        if unknown:
            raise SystemExit(f"unknown methods {unknown}; available: {', '.join(available_advantages())}")
        compare_algos(out, args.seeds, args.overrides, methods)
    elif args.which == "sample-efficiency":
        compare_sample_efficiency(out, args.seeds, args.overrides, args.target)
    else:
        compare_generalisation(out, args.overrides)


if __name__ == "__main__":
    main()
