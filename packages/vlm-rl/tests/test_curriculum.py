"""AutoCurriculum: weights ∝ 1/mean length, absent levels, uniform mode, sampling."""

from collections import Counter

import numpy as np
import pytest

from vlm_rl.curriculum import AutoCurriculum


def test_starts_uniform():
    assert AutoCurriculum(["1-1", "1-2", "1-3", "2-1"]).weights == {"1-1": 0.25, "1-2": 0.25, "1-3": 0.25, "2-1": 0.25}


def test_weights_follow_inverse_length():
    # level A mean length (8 + 12)/2 = 10, level B 40: raw 1/10, 1/40 → 0.1/0.125 = 0.8, 0.025/0.125 = 0.2
    c = AutoCurriculum(["A", "B"])
    w = c.update(["A", "A", "B"], [8, 12, 40])
    assert w["A"] == pytest.approx(0.8) and w["B"] == pytest.approx(0.2)
    assert c.weights == w


def test_absent_level_gets_mean_weight():
    # A: 1/10, B: 1/40, C absent → mean (0.1 + 0.025)/2 = 0.0625; total 0.1875
    # → 0.1/0.1875 = 0.533333, 0.025/0.1875 = 0.133333, 0.0625/0.1875 = 0.333333
    w = AutoCurriculum(["A", "B", "C"]).update(["A", "B"], [10, 40])
    assert [w["A"], w["B"], w["C"]] == pytest.approx([8 / 15, 2 / 15, 5 / 15])


def test_update_replaces_previous_weights_and_empty_batch_keeps_them():
    c = AutoCurriculum(["A", "B"])
    c.update(["A", "B"], [10, 40])
    assert c.update(["A", "B"], [20, 20]) == {"A": 0.5, "B": 0.5}
    assert c.update([], []) == {"A": 0.5, "B": 0.5}


def test_zero_length_is_treated_as_one():
    # A mean 0 → 1 (finite), B 3: raw 1, 1/3 → 0.75, 0.25
    w = AutoCurriculum(["A", "B"]).update(["A", "B"], [0, 3])
    assert [w["A"], w["B"]] == pytest.approx([0.75, 0.25])


def test_uniform_mode_ignores_lengths():
    c = AutoCurriculum(["A", "B"], mode="uniform")
    assert c.update(["A", "B"], [10, 40]) == {"A": 0.5, "B": 0.5}


def test_bad_inputs_refused():
    with pytest.raises(ValueError, match="mode"):
        AutoCurriculum(["A"], mode="inverse")
    with pytest.raises(ValueError, match="unknown levels"):
        AutoCurriculum(["A"]).update(["Z"], [3])
    with pytest.raises(ValueError, match="same length"):
        AutoCurriculum(["A"]).update(["A"], [3, 4])


def test_sample_counts_are_largest_remainder():
    # weights 0.8/0.2: n = 10 → exactly 8 A and 2 B
    # n = 7 → 5.6 / 1.4 → floors 5 + 1 = 6, the spare one to A (remainder 0.6 > 0.4) → 6 A, 1 B
    c = AutoCurriculum(["A", "B"])
    c.update(["A", "B"], [10, 40])
    rng = np.random.default_rng(0)
    assert Counter(c.sample(10, rng)) == {"A": 8, "B": 2}
    assert Counter(c.sample(7, rng)) == {"A": 6, "B": 1}
    assert c.sample(0, rng) == []


def test_sample_frequencies_approach_weights():
    # three equal weights, n = 2: remainders tie, so the spare slots must rotate at random
    c = AutoCurriculum(["A", "B", "C"])
    rng = np.random.default_rng(0)
    counts = Counter(lv for _ in range(3000) for lv in c.sample(2, rng))
    freq = np.array([counts[k] for k in "ABC"]) / 6000
    assert np.abs(freq - 1 / 3).max() < 0.02
    # 0.8/0.2 with n = 5: 4.0 / 1.0 → every batch is exactly 4 A + 1 B
    c2 = AutoCurriculum(["A", "B"])
    c2.update(["A", "B"], [10, 40])
    counts = Counter(lv for _ in range(1000) for lv in c2.sample(5, rng))
    assert counts["A"] / 5000 == pytest.approx(0.8)


def test_sample_order_is_shuffled():
    c = AutoCurriculum(["A", "B"])
    seqs = {tuple(c.sample(4, np.random.default_rng(s))) for s in range(20)}
    assert len(seqs) > 1


def test_state_dict_round_trip():
    c = AutoCurriculum(["A", "B"])
    c.update(["A", "B"], [10, 40])
    d = AutoCurriculum(["A", "B"])
    d.load_state_dict(c.state_dict())
    assert d.weights == c.weights
