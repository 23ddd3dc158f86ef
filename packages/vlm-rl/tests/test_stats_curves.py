"""The README's headline numbers (mean ± standard error, the 'Avg.' column) and the learning-curve helpers,
against numbers worked out by hand."""

import csv
import json
import math

import pytest

from vlm_rl.report.curves import CurveWriter, average_over_levels, read_curves, samples_to_reach
from vlm_rl.report.stats import MeanSE, markdown_table, mean_se, table_rows, write_tables

# SFT: level 1 [1, 2, 3, 6]: mean 3; deviations −2 −1 0 3, squares 4 + 1 + 0 + 9 = 14,
#        sample var 14/3, std sqrt(14/3) = 2.160247, se = std/sqrt(4) = 1.080123
#      level 2 [10, 20]: mean 15, var (25 + 25)/1 = 50, se = sqrt(50/2) = 5
#      Avg. = mean of the level means (each level weighs the same) = (3 + 15)/2 = 9,
#        se = sqrt(se1² + se2²)/2 = sqrt(14/12 + 25)/2 = sqrt(26.166667)/2 = 2.557668, n = 4 + 2 = 6
#        (pooling all 6 episodes would give (12 + 30)/6 = 7 instead)
# RL:  level 1 [4, 4]: mean 4, se 0
#      level 2 [0, 10, 20]: mean 10, var (100 + 0 + 100)/2 = 100, se = sqrt(100/3) = 5.773503
#      Avg. = (4 + 10)/2 = 7, se = sqrt(0 + 100/3)/2 = 2.886751, n = 5   (pooled: 38/5 = 7.6)
RESULTS = {"SFT": {"1": [1, 2, 3, 6], "2": [10, 20]}, "RL": {"1": [4, 4], "2": [0, 10, 20]}}
SE_SFT_AVG = math.sqrt(14 / 12 + 25) / 2
SE_RL_2 = math.sqrt(100 / 3)


def test_mean_se_by_hand():
    s = mean_se([1, 2, 3, 6])
    assert s.n == 4 and s.mean == 3.0
    assert s.se == pytest.approx(math.sqrt(14 / 3) / 2, rel=1e-12)
    assert s.se == pytest.approx(1.0801234497, rel=1e-9)
    assert str(s) == "3.0 ± 1.1"


def test_mean_se_one_and_no_value():
    assert mean_se([7.5]) == MeanSE(7.5, 0.0, 1)
    empty = mean_se([])
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.se)


def test_avg_column_is_the_mean_of_level_means_not_of_all_episodes():
    cols, rows = table_rows(RESULTS)
    assert cols == ["1", "2", "Avg."]
    sft, rl = rows
    assert [c.mean for c in sft] == [3.0, 15.0, 9.0] and [c.n for c in sft] == [4, 2, 6]
    assert [c.mean for c in rl] == [4.0, 10.0, 7.0] and [c.n for c in rl] == [2, 3, 5]
    assert sft[2].se == pytest.approx(SE_SFT_AVG, rel=1e-12)
    assert rl[2].se == pytest.approx(SE_RL_2 / 2, rel=1e-12)
    assert rl[0].se == 0.0 and rl[1].se == pytest.approx(SE_RL_2, rel=1e-12)


def test_markdown_table_cells_exactly():
    assert markdown_table(RESULTS).splitlines() == [
        "| Model | 1 | 2 | Avg. |",
        "|---|---|---|---|",
        "| SFT | 3.0 ± 1.1 | 15.0 ± 5.0 | 9.0 ± 2.6 |",  # se 1.0801 → 1.1, Avg. se 2.5577 → 2.6
        "| RL | 4.0 ± 0.0 | 10.0 ± 5.8 | 7.0 ± 2.9 |",  # se 5.7735 → 5.8, Avg. se 2.8868 → 2.9
    ]
    assert markdown_table({"A": {"1": [2]}}, title="Policy").splitlines()[0] == "| Policy | 1 | Avg. |"


def test_a_level_missing_from_a_row_makes_its_avg_nan():
    # the missing level is an empty cell (nan), and a mean over levels with one unknown is unknown
    _, rows = table_rows({"A": {"1": [1, 3]}, "B": {"2": [5]}})
    a, b = rows
    assert a[0].mean == 2.0 and a[1].n == 0 and math.isnan(a[1].mean) and math.isnan(a[2].mean)
    assert math.isnan(b[0].mean) and b[1].mean == 5.0 and math.isnan(b[2].mean)


def test_csv_and_json_hold_the_same_numbers(tmp_path):
    paths = write_tables(RESULTS, tmp_path, "results", title="Policy")
    assert paths == {"md": tmp_path / "results.md", "csv": tmp_path / "results.csv", "json": tmp_path / "results.json"}
    assert paths["md"].read_text() == markdown_table(RESULTS, "Policy") + "\n"

    rows = list(csv.reader(paths["csv"].read_text().splitlines()))
    assert rows[0] == ["Policy", "1 mean", "1 se", "2 mean", "2 se", "Avg. mean", "Avg. se", "n"]
    assert rows[1] == ["SFT", "3.0000", "1.0801", "15.0000", "5.0000", "9.0000", "2.5577", "6"]
    assert rows[2] == ["RL", "4.0000", "0.0000", "10.0000", "5.7735", "7.0000", "2.8868", "5"]

    js = json.loads(paths["json"].read_text())
    assert list(js) == ["SFT", "RL"]
    assert js["SFT"]["values"] == {"1": [1, 2, 3, 6], "2": [10, 20]}
    assert js["RL"]["values"] == {"1": [4, 4], "2": [0, 10, 20]}
    s = js["SFT"]["summary"]
    assert {k: (v["mean"], v["n"]) for k, v in s.items()} == {"1": (3.0, 4), "2": (15.0, 2), "Avg.": (9.0, 6)}
    assert s["1"]["se"] == pytest.approx(math.sqrt(14 / 3) / 2) and s["2"]["se"] == 5.0
    assert s["Avg."]["se"] == pytest.approx(SE_SFT_AVG)
    r = js["RL"]["summary"]
    assert {k: (v["mean"], v["n"]) for k, v in r.items()} == {"1": (4.0, 2), "2": (10.0, 3), "Avg.": (7.0, 5)}
    assert r["2"]["se"] == pytest.approx(SE_RL_2) and r["Avg."]["se"] == pytest.approx(SE_RL_2 / 2)
    # the CSV's rounded numbers are the JSON's
    for line, name in zip(rows[1:], ["SFT", "RL"], strict=True):
        summ = js[name]["summary"]
        assert [float(x) for x in line[1:7]] == [round(summ[c][k], 4) for c in ("1", "2", "Avg.") for k in ("mean", "se")]


# ---------------------------------------------------------------- curves

CURVE = [(0, 1.0), (100, 4.9), (200, 5.0), (300, 7.0), (400, 4.0)]


def test_samples_to_reach():
    assert samples_to_reach(CURVE, 5.0) == 200  # exactly equal counts as reached (4.9 does not)
    assert samples_to_reach(CURVE, 4.95) == 200
    assert samples_to_reach(CURVE, 6.0) == 300  # the first crossing; the later drop to 4 changes nothing
    assert samples_to_reach(CURVE, 1.0) == 0  # reached before any training
    assert samples_to_reach(CURVE, 7.01) is None  # never
    assert samples_to_reach([], 0.0) is None


def _row(method, seed, samples, level, mean):
    return {"method": method, "seed": seed, "samples": samples, "level": level, "mean": mean, "se": 0.0, "n": 2}


def test_average_over_levels_two_levels():
    # ppo seed 0: samples 0: levels (2, 4) → 3; samples 100: (6, 10) → 8
    # ppo seed 1: samples 0: (1, 2) → 1.5;  grpo seed 0: samples 50: (0, 5) → 2.5
    rows = [  # deliberately out of order
        _row("ppo", 0, 100, "2", 10.0), _row("ppo", 1, 0, "1", 1.0), _row("ppo", 0, 0, "1", 2.0),
        _row("grpo", 0, 50, "1", 0.0), _row("ppo", 0, 100, "1", 6.0), _row("ppo", 0, 0, "2", 4.0),
        _row("ppo", 1, 0, "2", 2.0), _row("grpo", 0, 50, "2", 5.0),
    ]
    assert average_over_levels(rows) == {
        ("ppo", 0): [(0, 3.0), (100, 8.0)],
        ("ppo", 1): [(0, 1.5)],
        ("grpo", 0): [(50, 2.5)],
    }
    assert samples_to_reach(average_over_levels(rows)[("ppo", 0)], 8.0) == 100


def test_curve_writer_rows_are_mean_se_of_the_values(tmp_path):
    w = CurveWriter(tmp_path / "c" / "curve.jsonl", "ppo_pos", 3)
    w.write(0, {"1": [1, 2, 3, 6], "2": [10, 20]})
    w.write(64, {"1": [4, 4], "2": [0, 10, 20]})
    rows = read_curves([tmp_path / "c" / "curve.jsonl"])
    assert [(r["samples"], r["level"], r["mean"], r["n"]) for r in rows] == [
        (0, "1", 3.0, 4), (0, "2", 15.0, 2), (64, "1", 4.0, 2), (64, "2", 10.0, 3)]
    assert [r["se"] for r in rows] == pytest.approx([math.sqrt(14 / 3) / 2, 5.0, 0.0, SE_RL_2])
    assert {(r["method"], r["seed"]) for r in rows} == {("ppo_pos", 3)}
    # level means (3 + 15)/2 = 9 at 0 samples, (4 + 10)/2 = 7 at 64: the table's Avg. column
    assert average_over_levels(rows) == {("ppo_pos", 3): [(0, 9.0), (64, 7.0)]}
