"""The main job end to end on our cartridge with the tiny model, shrunk to seconds: stages, learning, resume."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vlm_rl.cli import compose
from vlm_rl.config import ConfigError
from vlm_rl.metrics import read_metrics
from vlm_rl.train import train

FAST = [
    "+exp=hopland",
    "env.levels=[1,2]",
    "annotate.frames=160",
    "annotate.heldout=0.25",
    "annotate.max_turns=20",
    "sft.batch_size=8",
    "sft.eval_frames=8",
    "sft.log_every=1",
    "sft.vision_warmup_steps=4",
    "rl.steps=2",
    "rl.trajectories=4",
    "rl.envs=4",
    "rl.max_new_tokens=48",
    "rl.minibatch_size=16",
    "rl.micro_batch_size=8",
    "rl.critic.warmup_steps=1",
    "env.max_turns=6",
    "eval.episodes=2",
    "eval.video=false",
]


def _weights(policy_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(next(policy_dir.glob("*.safetensors")))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = compose(FAST + [f"out_dir={out}"])
    result = train(cfg)
    return out, result


def _whole_non_negative(values) -> bool:
    """x-progress is a whole number of pixels beyond the start, never negative."""
    return all(isinstance(v, (int, float)) and v >= 0 and v == int(v) for v in values)


def _check_tables_agree(eval_dir: Path, results: dict[str, dict[str, list[float]]], episodes: int) -> None:
    """results.json/.md/.csv and summary.txt all hold the numbers of `results` (per-episode values)."""
    import csv

    from vlm_rl.report.stats import markdown_table, mean_se, table_rows

    table = json.loads((eval_dir / "results.json").read_text())
    assert {k: v["values"] for k, v in table.items()} == results
    for name, per in results.items():
        for lv, values in per.items():
            assert len(values) == episodes and _whole_non_negative(values), (name, lv, values)
            s = mean_se(values)
            assert table[name]["summary"][lv] == {"mean": s.mean, "se": s.se, "n": episodes}
        # Avg.: the mean of the level means (each level weighs the same)
        means = [mean_se(v).mean for v in per.values()]
        assert table[name]["summary"]["Avg."]["mean"] == pytest.approx(sum(means) / len(means))
        assert table[name]["summary"]["Avg."]["n"] == episodes * len(per)
        # the play metrics: one value per episode and level, as many as x-progress
        for key in ("progress_budget", "completion", "deaths"):
            assert {lv: len(v) for lv, v in table[name][key]["values"].items()} == {lv: episodes for lv in per}
        # within the frame budget (48 turns' walking frames by default) at most what the turn limit reached
        assert all(b <= v for lv in per for b, v in zip(table[name]["progress_budget"]["values"][lv], per[lv], strict=True))
        assert all(c in (0, 100) for v in table[name]["completion"]["values"].values() for c in v)
        assert {"jump_hazard_near", "jump_clear_ground", "turns_hazard_near", "turns_clear_ground"} <= set(table[name])
    md = (eval_dir / "results.md").read_text()
    assert md.startswith(markdown_table(results) + "\n\n")  # the paper-shaped table first, then the play tables
    assert "Level completion" in md and "Deaths per episode" in md and "Jump answers" in md
    summary = (eval_dir / "summary.txt").read_text()
    assert md.strip() in summary and f"over {episodes} episodes each" in summary
    cols, rows = table_rows(results)
    csv_rows = list(csv.reader((eval_dir / "results.csv").read_text().splitlines()))
    assert [r[0] for r in csv_rows[1:]] == list(results)
    n_main = 2 * len(cols)
    assert csv_rows[0][n_main + 1] == "n"
    for line, cells in zip(csv_rows[1:], rows, strict=True):
        assert [float(x) for x in line[1:n_main + 1]] == [round(v, 4) for c in cells for v in (c.mean, c.se)]
        assert int(line[n_main + 1]) == cells[-1].n


def _check_perception(eval_dir: Path, labels: set[str]) -> None:
    fidelity = json.loads((eval_dir / "perception.json").read_text())
    assert set(fidelity) == labels
    for f in fidelity.values():
        if "perception_exact" in f:  # every fact right implies each fact right
            assert f["perception_exact"] <= min(f["perception_stance"], f["perception_hazard"], f["perception_enemy"])


def test_every_stage_writes_its_outputs(run):
    out, result = run
    assert set(result["timings"]) == {"annotate", "sft", "rl", "eval"}
    assert json.loads((out / "timings.json").read_text()) == result["timings"]

    # the dataset: DONE.json's counts are the frames and metadata lines on disk; held out = every 4th
    # episode (annotate.heldout=0.25 → episode % 4 == 3)
    done = json.loads((out / "data" / "DONE.json").read_text())
    for split in ("train", "test"):
        meta = [json.loads(line) for line in (out / "data" / split / "metadata.jsonl").read_text().splitlines()]
        assert len(meta) == done["counts"][split] == len(list((out / "data" / split).glob("*.png")))
        assert all((m["episode"] % 4 == 3) == (split == "test") for m in meta)
    assert done["counts"]["train"] + done["counts"]["test"] == 160 and done["counts"]["test"] > 0

    # SFT's report: frame counts from the dataset, steps from the schedule (hopland: 3 epochs of full
    # batches of 8), rates over min(sft.eval_frames, held-out) = n frames are multiples of 1/n
    report = json.loads((out / "sft" / "report.json").read_text())
    assert report["heldout_frames"] == done["counts"]["test"] and report["train_frames"] == done["counts"]["train"]
    assert report["steps"] == 3 * (done["counts"]["train"] // 8)
    n = min(8, done["counts"]["test"])
    for key in ("strict_rate", "lenient_rate", "teacher_agreement"):
        assert report[key] * n == pytest.approx(round(report[key] * n)), (key, report[key])
    assert report["strict_rate"] <= report["lenient_rate"]  # a strict answer is also a lenient one
    actions = {k: v for k, v in report.items() if k.startswith("action/")}
    assert report["distinct_actions"] == len(actions)
    if actions:
        assert sum(actions.values()) == pytest.approx(1.0)
    # the last metrics row logs the same report
    sft_eval = [r for r in read_metrics(out / "sft" / "metrics.jsonl") if "sft_eval/heldout_frames" in r]
    assert len(sft_eval) == 1 and sft_eval[0]["step"] == report["steps"]
    assert {k: sft_eval[0][f"sft_eval/{k}"] for k in report} == pytest.approx(report)

    # RL: 2 steps, the sample count its last metrics row reached
    rows = read_metrics(out / "rl" / "metrics.jsonl")
    assert json.loads((out / "rl" / "DONE.json").read_text()) == {"steps": 2, "samples": int(rows[-1]["samples"])}
    assert (out / "rl" / "tb").is_dir() and list((out / "rl" / "tb").iterdir())

    # evaluation: SFT and RL on levels 1 and 2, eval.episodes=2 each; every file holds the same numbers
    # and the best constant answer (of Hopland's 22) on the same seeds
    results = json.loads((out / "eval" / "results.json").read_text())
    constant = [k for k in results if k.startswith("best constant: ")]
    assert set(results) == {"SFT", "RL", *constant, "random answers", "scripted player"} and len(constant) == 1
    assert all(set(v["values"]) == {"1", "2"} for v in results.values())
    # a constant answer jumps always or never
    assert {results[constant[0]][k] for k in ("jump_hazard_near", "jump_clear_ground")} <= {0.0, 1.0, None}
    _check_tables_agree(out / "eval", {k: v["values"] for k, v in results.items()}, episodes=2)
    assert result["results"] == {k: v["values"] for k, v in results.items()}
    _check_perception(out / "eval", {"SFT", "RL"})


def test_the_dataset_loads_with_hugging_face_datasets(run, tmp_path):
    import datasets

    out, _ = run
    ds = datasets.load_dataset("imagefolder", data_dir=str(out / "data"), cache_dir=str(tmp_path))
    assert set(ds) == {"train", "test"} and ds["train"].num_rows + ds["test"].num_rows == 160
    row = ds["train"][0]
    assert row["image"].size == (160, 144) and row["text"].startswith("<perception>")
    assert set(row["facts"]) == {"stance", "hazard", "enemy"} and row["buttons"] is not None


def test_sft_lowers_the_loss(run):
    out, _ = run
    losses = [m["sft/loss"] for m in read_metrics(out / "sft" / "metrics.jsonl") if "sft/loss" in m]
    assert len(losses) >= 10
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.6 * first, (first, last)


def test_rl_changes_the_policy_and_logs_its_metrics(run):
    out, _ = run
    before, after = _weights(out / "sft" / "policy"), _weights(out / "rl" / "policy")
    assert before.keys() == after.keys()
    changed = sum(not torch.equal(before[k], after[k]) for k in before)
    assert changed > len(before) // 2, f"only {changed} of {len(before)} tensors changed"
    rows = read_metrics(out / "rl" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[0]["actor/updated"] == 0.0  # critic warm-up step
    # +exp=hopland learns perception in RL: the actor updates even when no turn has a positive advantage
    assert rows[1]["actor/updated"] == 1.0 and "actor/perception_nll" in rows[1] and "critic/value_loss" in rows[1]
    assert ("actor/clipfrac" in rows[1]) == (rows[1]["adv/kept_fraction"] > 0)
    assert rows[1]["samples"] > rows[0]["samples"] > 0
    assert all(0 <= r["rollout/format_strict"] <= 1 for r in rows)
    assert abs(sum(v for k, v in rows[1].items() if k.startswith("curriculum/")) - 1) < 1e-6


def test_evaluate_greedy_and_sampled_from_saved_states_and_held_out_levels(run, tmp_path):
    import gymnasium as gym

    from vlm_rl.stages.evaluate import evaluate

    out, _ = run
    env = gym.make("GB/Hopland-v0", actions="buttons")
    env.reset(seed=3, options={"level": "4"})
    for _ in range(5):
        env.step(["b", "right"])
    (tmp_path / "mid4.state").write_bytes(env.unwrapped.clone_state())
    env.close()
    cfg = compose(FAST + [f"out_dir={out}", "eval.decoding=both", "eval.policies=[sft]", "eval.levels=[3]",
                          f"eval.states=[{tmp_path / 'mid4.state'}]", "eval.video=true"])
    res = evaluate(cfg)["results"]
    constant = [k for k in res if k.startswith("best constant: ")]  # played from the saved state too
    assert set(res) == {"SFT (sampled)", "SFT (greedy)", *constant, "random answers", "scripted player"}
    assert len(constant) == 1
    for r in res.values():
        assert set(r) == {"3", "state:mid4"}
    # the files this evaluation rewrote hold its numbers: 2 episodes per level and per state
    _check_tables_agree(out / "eval", res, episodes=2)
    _check_perception(out / "eval", {"SFT (sampled)", "SFT (greedy)"})
    # greedy from one saved state: the state restores the game (its RNG included), the policy is
    # deterministic, so the two episodes (reset seeds 1000 and 1001) play the same and reach the same x
    a, b = res["SFT (greedy)"]["state:mid4"]
    assert a == b, res["SFT (greedy)"]
    assert (out / "eval" / "sft_greedy_best.gif").is_file() and (out / "eval" / "sft_sampled_median.gif").is_file()


def test_an_existing_run_is_not_overwritten(run):
    out, _ = run
    with pytest.raises(FileExistsError, match="resume=true"):
        train(compose(FAST + [f"out_dir={out}"]))


def test_invalid_config_values_are_named():
    with pytest.raises(ConfigError, match="rl.trajectories=5 is not a multiple of algo.group_size=4"):
        compose(FAST + ["algo=grpo_outcome", "rl.trajectories=5"])
    with pytest.raises(ConfigError, match="invalid rl.top_p=1.5"):
        compose(FAST + ["rl.top_p=1.5"])
    with pytest.raises(ConfigError, match="invalid algo.advantage='nope'; available: .*gae"):
        compose(FAST + ["algo.advantage=nope"])


def test_kirby_experiment_checks_the_rom_before_any_model(tmp_path, monkeypatch):
    monkeypatch.setenv("GB_GYM_ROM_DIR", str(tmp_path / "roms"))
    cfg = compose(["+exp=kirby", f"out_dir={tmp_path / 'k'}"])
    assert cfg.model.path == "qwen3-vl-8b" and cfg.rl.max_turns == 400
    from gb_gym.roms import RomNotFoundError

    with pytest.raises(RomNotFoundError, match="gb-gym roms import"):
        train(cfg)


def test_kirby_experiment_with_a_rom_but_no_weights_says_how_to_get_them(tmp_path, monkeypatch):
    from gb_gym.roms import BANK_SIZE
    from vlm_rl.models import ModelNotAvailableError

    rom = bytearray(2 * BANK_SIZE)  # a stand-in with Kirby's header, never run: the model check fails first
    rom[0x134:0x143] = b"KIRBY DREAM LAN"
    rom[0x14D] = (-sum(rom[0x134:0x14D]) - 25) & 0xFF
    (tmp_path / "roms").mkdir()
    (tmp_path / "roms" / "kirby_dream_land.gb").write_bytes(bytes(rom))
    monkeypatch.setenv("GB_GYM_ROM_DIR", str(tmp_path / "roms"))
    cfg = compose(["+exp=kirby", f"out_dir={tmp_path / 'k'}"])
    with pytest.warns(UserWarning, match="unknown SHA-256"), pytest.raises(ModelNotAvailableError) as e:
        train(cfg)
    assert "Qwen/Qwen3-VL-8B-Instruct" in str(e.value) and "hf download" in str(e.value)
    assert not (tmp_path / "k" / "data").exists()  # nothing ran


def _train_cmd(out: Path, extra=()) -> list[str]:
    return [sys.executable, "-m", "vlm_rl.train", *FAST, f"out_dir={out}", "rl.steps=4", *extra]


def test_a_run_killed_mid_way_resumes_with_nothing_lost(tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_train_cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    latest = out / "rl" / "ckpt" / "latest"
    while time.time() < deadline and not (latest.is_file() and latest.read_text().strip() >= "step_000002"):
        time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed"
    proc.kill()
    proc.wait()
    killed_at = int(latest.read_text().strip().split("_")[1])
    assert 2 <= killed_at < 4
    res = subprocess.run(_train_cmd(out, ["resume=true"]), env=env, capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"resumed from {out / 'rl' / 'ckpt'}" in res.stdout + res.stderr
    steps = [r["step"] for r in read_metrics(out / "rl" / "metrics.jsonl")]
    # steps up to the checkpoint are kept, later ones are redone; every step is there once at the end
    assert sorted(set(steps)) == [1, 2, 3, 4] and steps[:killed_at] == list(range(1, killed_at + 1))
    assert json.loads((out / "rl" / "DONE.json").read_text())["steps"] == 4
    assert (out / "eval" / "results.md").is_file()


def test_a_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path):
    from vlm_rl.checkpoint import CheckpointError, find_checkpoint, save_checkpoint

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    opt.step()

    def save_policy(p):
        p.mkdir()
        (p / "weights.bin").write_bytes(b"x")

    for step in (1, 2):
        save_checkpoint(tmp_path, step, save_policy_fn=save_policy, optimizers={"actor": opt})
    (tmp_path / "step_000002" / "trainer.safetensors").write_bytes(b"not safetensors")
    path, tensors, meta = find_checkpoint(tmp_path)
    assert path.name == "step_000001" and meta["step"] == 1
    (tmp_path / "step_000001" / "trainer.json").write_text("{")
    with pytest.raises(CheckpointError, match="no readable checkpoint.*step_000002 is damaged"):
        find_checkpoint(tmp_path)


def _launch_chromium(p):
    """Debian's chromium (.ci/run installs it), else Playwright's own browser, else a skip saying how."""
    import shutil

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        return p.chromium.launch(**({"executable_path": exe, "args": ["--no-sandbox"]} if exe else {}))
    except Exception as e:  # no browser at all
        pytest.skip(f"no headless chromium ({str(e).splitlines()[0]}): apt-get install chromium")


def _shown(text: str, value) -> bool:
    """A number as the page shows it (JavaScript's String(x); an em dash for none) equals the file's."""
    if value is None:
        return text == "\u2014"
    if isinstance(value, bool):
        return text == str(value).lower()
    return float(text) == value


def test_the_replay_viewer_shows_the_runs_episodes(run):
    """After the main job, `python -m vlm_rl.replay RUN` writes a page a headless browser drives: no console
    errors, the scrubber moves the frame and the text, and every number shown is the replay files'."""
    from vlm_rl.replay.page import png_uri
    from vlm_rl.replay.record import read_replay
    from vlm_rl.replay.render import render
    from vlm_rl.runs import RunDir

    out, result = run
    rd = RunDir(out)
    # kept: RL steps 1 and 2 (the first and the last; replay.rl_every=5) and both evaluated policies, whose
    # episodes are those the main job's evaluation (its results.json) and metrics.jsonl report
    # (the module's other tests may add evaluations of their own to this run, and rewrite results.json)
    names = [p.name for p in rd.replays()]
    assert [n for n in names if n.startswith("step_")] == ["step_00001.json.gz", "step_00002.json.gz"]
    assert {"rl.json.gz", "sft.json.gz"} <= set(names)
    for label in ("SFT", "RL"):
        eps = read_replay(rd.eval_replay(label))["episodes"]
        assert {lv: [e["progress"] for e in eps if e["level"] == lv] for lv in ("1", "2")} == result["results"][label]
    for row in read_metrics(out / "rl" / "metrics.jsonl"):
        turns = [t for e in read_replay(rd.rl_replay(row["step"]))["episodes"] for t in e["turns"]]
        assert sum(t["kept"] for t in turns) / len(turns) == pytest.approx(row["adv/kept_fraction"])
        assert np.mean([t["return"] for t in turns]) == pytest.approx(row["adv/return_mean"], rel=1e-4, abs=1e-3)

    res = subprocess.run([sys.executable, "-m", "vlm_rl.replay", str(out)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    html = rd.replay_page.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html)  # self-contained: nothing fetched from a server

    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (vlm-rl[test])")
    from vlm_rl.envs import make_env
    from vlm_rl.replay.__main__ import run_env_cfg

    env = make_env(run_env_cfg(rd), ram_info=True)
    with sync_api.sync_playwright() as p:
        browser = _launch_chromium(p)
        page = browser.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(rd.replay_page.as_uri())
        titles = page.locator("#list option").all_text_contents()
        # the main job's replays, in this order (then any the module's other evaluations added)
        assert titles[:4] == ["RL step 1", "RL step 2", "RL", "SFT"]

        # RL step 2: the episode list holds the file's episodes, sorted by progress (click: the other way)
        page.select_option("#list", label="RL step 2")
        doc = read_replay(rd.rl_replay(2))
        rows = [r.split("\t") for r in page.locator("#episodes tbody tr").evaluate_all(
            "rs => rs.map(r => [...r.cells].map(c => c.textContent).join('\\t'))")]
        assert len(rows) == len(doc["episodes"])
        for i, level, seed, progress, ret, turns, end in rows:
            e = doc["episodes"][int(i)]
            assert (level, int(seed), int(progress), float(ret), int(turns), end) == (
                e["level"], e["seed"], e["progress"], e["total_reward"], len(e["turns"]), e["end"])
        progress = [int(r[3]) for r in rows]
        assert progress == sorted(progress, reverse=True)
        page.click("th[data-sort=progress]")
        assert [int(x) for x in page.locator("#episodes tbody td:nth-child(4)").all_text_contents()] == sorted(progress)

        # the scrubber: at every turn the frame is the emulator's, the text and numbers the file's
        k = max(range(len(doc["episodes"])), key=lambda j: len({f.tobytes() for f in render(env, doc["episodes"][j])}))
        e = doc["episodes"][k]
        frames = render(env, e)
        page.click(f"#episodes tbody tr[data-index='{k}']")
        srcs, texts = set(), set()
        for t in range(len(e["turns"]) + 1):
            page.locator("#scrubber").fill(str(t))
            src = page.get_attribute("#frame", "src")
            assert src == png_uri(frames[t]), t
            srcs.add(src)
            if t == len(e["turns"]):
                assert page.text_content("#turnlabel") == f"end ({e['end']})"
                break
            turn = e["turns"][t]
            assert page.text_content("#turnlabel") == f"turn {t + 1} / {len(e['turns'])}"
            assert page.text_content("#raw") == turn["text"]
            texts.add(turn["text"])
            for key in ("reward", "value", "return", "advantage", "logprob", "kept"):
                assert _shown(page.text_content(f"#num-{key}"), turn[key]), (t, key)
            for tag, value in turn["tags"].items():
                assert page.text_content(f"#tag-{tag}") == (value if value is not None else "\u2014")
            facts = page.locator("#facts tbody tr")
            assert facts.count() == 3
            for j, fact in enumerate(("stance", "hazard", "enemy")):
                mismatch = turn["ram"][fact] != turn["said"][fact]
                assert facts.nth(j).get_attribute("class") == ("bad" if mismatch else "ok")
        assert len(srcs) > 1 and len(texts) > 1  # the scrubber changed both
        assert page.locator("#curves polyline").count() == 4  # value, return, advantage, reward

        # SFT vs RL on one seed: the SFT page shows RL's episode of the same start
        page.select_option("#list", label="SFT")
        sft_ep = read_replay(rd.eval_replay("SFT"))["episodes"][int(page.get_attribute("#episodes tr.sel", "data-index"))]
        rl_ep = next(o for o in read_replay(rd.eval_replay("RL"))["episodes"]
                     if (o["level"], o["seed"]) == (sft_ep["level"], sft_ep["seed"]))
        other = page.locator("#compare .other")
        assert other.count() == 1 and other.locator("b").text_content() == "RL"
        assert other.locator(".muted").text_content() == f"progress {rl_ep['progress']}, {rl_ep['end']}"
        assert other.locator("img").get_attribute("src") == png_uri(render(env, rl_ep)[0])
        browser.close()
    env.close()
    assert errors == []
