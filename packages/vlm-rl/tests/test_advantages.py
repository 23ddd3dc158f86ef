"""Advantage estimators against numbers worked out by hand.

The shared batch: three trajectories, ids deliberately not sorted (7, 3, 9),
gamma = 0.5 where discounting applies.

    turn      0   1   2 | 3 | 4   5
    traj_id   7   7   7 | 3 | 9   9
    group_id  0   0   0 | 0 | 1   1
    reward    1   0   2 | 4 | 3   2

Return-to-go with gamma 0.5 (reverse, inside each trajectory):
    traj 7: G2 = 2, G1 = 0 + 0.5·2 = 1, G0 = 1 + 0.5·1 = 1.5
    traj 3: G3 = 4
    traj 9: G5 = 2, G4 = 3 + 0.5·2 = 4
    RTG = [1.5, 1, 2, 4, 4, 2]
If returns leaked over a boundary, G2 would be 2 + 0.5·4 = 4, not 2.
"""

import math

import numpy as np
import pytest
import torch

from vlm_rl.algos import (
    AdvantageOutput,
    available_advantages,
    discounted_returns,
    drop_last_turns,
    get_advantage,
    register_advantage,
)

R = torch.tensor([1.0, 0.0, 2.0, 4.0, 3.0, 2.0])
TRAJ = torch.tensor([7, 7, 7, 3, 9, 9])
GROUP = torch.tensor([0, 0, 0, 0, 1, 1])
RTG = [1.5, 1.0, 2.0, 4.0, 4.0, 2.0]
# values chosen so that RTG − V = Ã = [2, −2, 4, 6, 0, −4]
V = torch.tensor([1.5 - 2, 1.0 + 2, 2.0 - 4, 4.0 - 6, 4.0 - 0, 2.0 + 4])


def close(x, expected, tol=1e-5):
    assert torch.allclose(x.double(), torch.tensor(expected, dtype=torch.float64), rtol=tol, atol=tol), (
        x.tolist(),
        expected,
    )


SEVEN = ["ppo", "ppo_pos", "grpo_outcome", "grpo_outcome_pos", "grpo_process", "grpo_process_pos", "reinforce_pp"]


def test_all_seven_registered():
    assert set(available_advantages()) >= set(SEVEN)


def test_unknown_name_lists_available():
    with pytest.raises(ValueError, match=r"unknown advantage estimator 'x'; available: gae, grpo_outcome, .*ppo"):
        get_advantage("x")


def test_duplicate_registration_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_advantage("ppo")(lambda *a: None)


# ---------------------------------------------------------------- returns


def test_discounted_returns_by_hand_and_boundaries():
    close(discounted_returns(R, TRAJ, 0.5), RTG)


def test_discounted_returns_gamma_one_and_zero():
    # gamma 1: suffix sums [1+0+2, 0+2, 2, 4, 3+2, 2]
    close(discounted_returns(R, TRAJ, 1.0), [3.0, 2.0, 2.0, 4.0, 5.0, 2.0])
    close(discounted_returns(R, TRAJ, 0.0), R.tolist())


def test_discounted_returns_adjacent_equal_rewards():
    # two 2-turn trajectories of 1s, gamma 0.9: [1 + 0.9, 1] each
    close(discounted_returns(torch.ones(4), torch.tensor([0, 0, 1, 1]), 0.9), [1.9, 1.0, 1.9, 1.0])


def test_discounted_returns_matches_naive_loop_on_random_batch():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 30, (40,), generator=g)
    traj = torch.repeat_interleave(torch.randperm(40, generator=g), lengths)
    r = torch.randn(int(lengths.sum()), generator=g, dtype=torch.float64)
    expected = torch.zeros_like(r)
    for t in range(len(r) - 1, -1, -1):  # naive reverse loop, reset at each boundary
        last = t == len(r) - 1 or traj[t + 1] != traj[t]
        expected[t] = r[t] + (0.0 if last else 0.95 * expected[t + 1])
    assert torch.allclose(discounted_returns(r, traj, 0.95), expected, atol=1e-12)


def test_non_contiguous_traj_id_refused():
    with pytest.raises(ValueError, match="contiguous"):
        discounted_returns(torch.ones(3), torch.tensor([0, 1, 0]), 0.9)


def test_dtype_preserved():
    out = get_advantage("ppo")(R.float(), TRAJ, GROUP, V.float(), 0.5)
    assert out.advantages.dtype == torch.float32 and out.returns.dtype == torch.float32
    assert out.keep.dtype == torch.bool


# ---------------------------------------------------------------- PPO


def test_ppo_by_hand():
    # Ã = [2, −2, 4, 6, 0, −4]; mean 1; deviations 1, −3, 3, 5, −1, −5
    # squares 1+9+9+25+1+25 = 70; unbiased var 70/5 = 14; A = Ã / √14 (no centring)
    out = get_advantage("ppo")(R, TRAJ, GROUP, V, 0.5)
    close(out.returns, RTG)
    close(out.advantages, [0.534522, -0.534522, 1.069045, 1.603567, 0.0, -1.069045])
    assert out.keep.all()


def test_ppo_pos_by_hand():
    # a = max(Ã, 0) = [2, 0, 4, 6, 0, 0]; positives {2, 4, 6}: mean 4,
    # unbiased var (4 + 0 + 4)/2 = 4, std 2 → A = [1, 0, 2, 3, 0, 0]
    out = get_advantage("ppo_pos")(R, TRAJ, GROUP, V, 0.5)
    close(out.returns, RTG)
    close(out.advantages, [1.0, 0.0, 2.0, 3.0, 0.0, 0.0])
    assert out.keep.tolist() == [True, False, True, True, False, False]


def test_ppo_needs_values():
    with pytest.raises(ValueError, match="values"):
        get_advantage("ppo_pos")(R, TRAJ, GROUP, None, 0.5)


def test_ppo_pos_no_positive_entry_keeps_nothing():
    out = get_advantage("ppo_pos")(R, TRAJ, GROUP, V + 100.0, 0.5)
    assert torch.equal(out.advantages, torch.zeros(6))
    assert not out.keep.any()


def test_ppo_pos_one_positive_entry_becomes_one():
    # single-turn trajectories, gamma irrelevant: Ã = r − V = [3, −1, −2]
    # one positive entry: unbiased variance undefined → divide by its own size → 1
    r, v = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 2.0])
    out = get_advantage("ppo_pos")(r, torch.arange(3), None, v, 0.95)
    close(out.advantages, [1.0, 0.0, 0.0])
    assert out.keep.tolist() == [True, False, False]


def test_ppo_pos_equal_positive_entries_become_one():
    # Ã = [2, 2, −1]: positive variance 0 → divide by mean positive (2), not by √1e-8
    r, v = torch.tensor([2.0, 2.0, 0.0]), torch.tensor([0.0, 0.0, 1.0])
    out = get_advantage("ppo_pos")(r, torch.arange(3), None, v, 0.95)
    close(out.advantages, [1.0, 1.0, 0.0])


def test_ppo_pos_positives_equal_up_to_rounding_become_one():
    # found by hypothesis. gamma 0.95, V = rewards = [0, −3, 1 | 0, 1]:
    # Ã = [−1.9475, (−3 + 0.95) − (−3), 0 | 0.95, 0]; the two positives are 0.95 in exact
    # arithmetic but differ in the last bit; sqrt(var + 1e-8) would make them ~9500
    r = torch.tensor([0.0, -3.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    out = get_advantage("ppo_pos")(r, torch.tensor([0, 0, 0, 1, 1]), None, r.clone(), 0.95)
    close(out.advantages, [0.0, 1.0, 0.0, 1.0, 0.0])


def test_ppo_single_turn_batch_is_sign():
    # Ã = 0 − 3 = −3, one entry → −3 / |−3| = −1
    out = get_advantage("ppo")(torch.zeros(1), torch.zeros(1, dtype=torch.long), None, torch.tensor([3.0]), 0.95)
    close(out.advantages, [-1.0])


# ---------------------------------------------------------------- GRPO outcome


def test_grpo_outcome_group_scope_by_hand():
    # totals: traj 7 = 1+0+2 = 3, traj 3 = 4, traj 9 = 3+2 = 5 (gamma ignored)
    # group 0 = {3, 4}: mean 3.5, unbiased var (0.25 + 0.25)/1 = 0.5, std 0.707107
    #   → (3 − 3.5)/0.707107 = −0.707107, (4 − 3.5)/0.707107 = +0.707107
    # group 1 = {5}: one trajectory, nothing to compare with → 0
    out = get_advantage("grpo_outcome")(R, TRAJ, GROUP, None, 0.5)
    close(out.advantages, [-0.707107] * 3 + [0.707107] + [0.0, 0.0])
    close(out.returns, [3.0, 3.0, 3.0, 4.0, 5.0, 5.0])
    assert out.keep.all()


def test_grpo_outcome_batch_scope_by_hand():
    # {3, 4, 5} per trajectory (not per turn): mean 4, var (1 + 0 + 1)/2 = 1 → [−1, 0, 1]
    # (a turn-weighted mean would be (3·3 + 4 + 5·2)/6 = 23/6 and give other numbers)
    out = get_advantage("grpo_outcome")(R, TRAJ, GROUP, None, scope="batch")
    close(out.advantages, [-1.0, -1.0, -1.0, 0.0, 1.0, 1.0])
    # group_id None means one group: same as scope="batch"
    close(get_advantage("grpo_outcome")(R, TRAJ).advantages, [-1.0, -1.0, -1.0, 0.0, 1.0, 1.0])


def test_grpo_outcome_pos_by_hand():
    out = get_advantage("grpo_outcome_pos")(R, TRAJ, GROUP, scope="batch")
    close(out.advantages, [0.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    assert out.keep.tolist() == [False] * 4 + [True] * 2
    out = get_advantage("grpo_outcome_pos")(R, TRAJ, GROUP)
    close(out.advantages, [0.0, 0.0, 0.0, 0.707107, 0.0, 0.0])
    assert out.keep.tolist() == [False, False, False, True, False, False]


def test_grpo_outcome_equal_returns_and_single_trajectory_give_zero():
    # totals 0.1+0.2 and 0.2+0.1 and 0.3: equal in exact arithmetic, not in floats
    r = torch.tensor([0.1, 0.2, 0.2, 0.1, 0.3], dtype=torch.float64)
    out = get_advantage("grpo_outcome")(r, torch.tensor([0, 0, 1, 1, 2]))
    assert torch.isfinite(out.advantages).all() and out.advantages.abs().max() < 1e-6
    out = get_advantage("grpo_outcome")(torch.tensor([1.0, 2.0]), torch.tensor([0, 0]))
    assert out.advantages.tolist() == [0.0, 0.0]


def test_group_id_must_be_constant_in_a_trajectory():
    with pytest.raises(ValueError, match="group_id"):
        get_advantage("grpo_outcome")(R, TRAJ, torch.tensor([0, 1, 0, 0, 1, 1]))


def test_bad_scope_refused():
    with pytest.raises(ValueError, match="scope"):
        get_advantage("grpo_process")(R, TRAJ, GROUP, scope="turn")


# ---------------------------------------------------------------- GRPO process


def test_grpo_process_batch_scope_by_hand():
    # rewards [1, 0, 2, 4, 3, 2]: mean 2, deviations −1, −2, 0, 2, 1, 0
    # squares 1+4+0+4+1+0 = 10, unbiased var 2 → r̃ = dev/√2
    # undiscounted RTG of r̃ (×√2): traj 7 [−3, −2, 0], traj 3 [2], traj 9 [1, 0]
    out = get_advantage("grpo_process")(R, TRAJ, GROUP, None, 0.5, scope="batch")
    close(out.advantages, [-3 / math.sqrt(2), -2 / math.sqrt(2), 0.0, 2 / math.sqrt(2), 1 / math.sqrt(2), 0.0])
    close(out.returns, [3.0, 2.0, 2.0, 4.0, 5.0, 2.0])  # raw undiscounted RTG


def test_grpo_process_group_scope_by_hand():
    # group 0 rewards [1, 0, 2, 4]: mean 1.75, deviations −0.75, −1.75, 0.25, 2.25,
    #   squares 0.5625 + 3.0625 + 0.0625 + 5.0625 = 8.75, var 8.75/3, s = 1.707825
    #   traj 7 RTG: (−0.75 − 1.75 + 0.25)/s = −2.25/s, (−1.75 + 0.25)/s = −1.5/s, 0.25/s
    #   traj 3: 2.25/s
    # group 1 rewards [3, 2]: mean 2.5, var (0.25 + 0.25)/1 = 0.5 → r̃ = [0.707107, −0.707107]
    #   traj 9 RTG: [0.707107 − 0.707107, −0.707107] = [0, −0.707107]
    out = get_advantage("grpo_process")(R, TRAJ, GROUP)
    close(out.advantages, [-1.317465, -0.878310, 0.146385, 1.317465, 0.0, -0.707107])


def test_grpo_process_pos_by_hand():
    out = get_advantage("grpo_process_pos")(R, TRAJ, GROUP, scope="batch")
    close(out.advantages, [0.0, 0.0, 0.0, 2 / math.sqrt(2), 1 / math.sqrt(2), 0.0])
    assert out.keep.tolist() == [False, False, False, True, True, False]


def test_grpo_process_equal_rewards_give_zero():
    out = get_advantage("grpo_process")(torch.full((4,), 0.1), torch.tensor([0, 0, 1, 1]))
    assert out.advantages.tolist() == [0.0] * 4


# ---------------------------------------------------------------- Reinforce++


def test_reinforce_pp_by_hand():
    # RTG (gamma 0.5) = [1.5, 1, 2, 4, 4, 2]; mean 14.5/6 = 29/12
    # deviations ×12: −11, −17, −5, 19, 19, −5; squares sum 1182 → 1182/144 = 8.208333
    # unbiased var 8.208333/5 = 1.641667, std 1.281275; A = dev/std
    out = get_advantage("reinforce_pp")(R, TRAJ, GROUP, None, 0.5)
    close(out.advantages, [-0.715433, -1.105669, -0.325197, 1.235748, 1.235748, -0.325197])
    close(out.returns, RTG)


def test_reinforce_pp_single_turn_is_zero():
    out = get_advantage("reinforce_pp")(torch.tensor([5.0]), torch.tensor([0]))
    assert out.advantages.tolist() == [0.0]


# ---------------------------------------------------------------- GAE
#
# Two trajectories, gamma 0.9, lam 0.8 (gamma·lam = 0.72):
#
#    turn           0    1    2  | 3    4
#    traj_id        0    0    0  | 1    1
#    reward         1    0    2  | 3    1
#    V(o_t)         2    1    3  | 1    2
#    next_values    1    3  100  | 2    4      (V(o_t+1); at turn 2 a value the death must ignore,
#    terminated     F    F    T  | F    F       at turn 4 V(final frame) of the truncated episode)
#
# δ_t = r_t + γ·(1 − term_t)·V'_t − V_t:
#    δ0 = 1 + 0.9·1 − 2 = −0.1     δ1 = 0 + 0.9·3 − 1 = 1.7     δ2 = 2 + 0 − 3 = −1   (100 ignored)
#    δ3 = 3 + 0.9·2 − 1 = 3.8      δ4 = 1 + 0.9·4 − 2 = 2.6                           (bootstrapped)
# Â_t = δ_t + 0.72·Â_{t+1}, reset at each trajectory's end:
#    Â2 = −1        Â1 = 1.7 + 0.72·(−1) = 0.98        Â0 = −0.1 + 0.72·0.98 = 0.6056
#    Â4 = 2.6       Â3 = 3.8 + 0.72·2.6 = 5.672
#    (a leak across the boundary would make Â2 = −1 + 0.72·5.672 = 3.08384)
# returns = Â + V = [2.6056, 1.98, 2, 6.672, 4.6]
# standardised over the batch: sum Â = 8.8576, mean 1.77152
#    deviations −1.16592, −0.79152, −2.77152, 3.90048, 0.82848
#    squares 1.3593694464 + 0.6265039104 + 7.6813231104 + 15.2137442304 + 0.6863791104 = 25.567319808
#    unbiased var 25.567319808 / 4 = 6.391829952, sqrt(var + 1e-8) = 2.528206867
#    A = deviation / 2.528206867 = [−0.461165, −0.313076, −1.096239, 1.542785, 0.327695]

GAE_R = torch.tensor([1.0, 0.0, 2.0, 3.0, 1.0])
GAE_TRAJ = torch.tensor([0, 0, 0, 1, 1])
GAE_V = torch.tensor([2.0, 1.0, 3.0, 1.0, 2.0])
GAE_NEXT = torch.tensor([1.0, 3.0, 100.0, 2.0, 4.0])
GAE_TERM = torch.tensor([False, False, True, False, False])


def test_gae_terminated_and_truncated_by_hand():
    out = get_advantage("gae")(GAE_R, GAE_TRAJ, None, GAE_V, 0.9, terminated=GAE_TERM, next_values=GAE_NEXT, lam=0.8)
    close(out.returns, [2.6056, 1.98, 2.0, 6.672, 4.6])
    close(out.returns - GAE_V, [0.6056, 0.98, -1.0, 5.672, 2.6])  # Â before standardisation
    close(out.advantages, [-0.461165, -0.313076, -1.096239, 1.542785, 0.327695])
    assert out.keep.all()


def test_gae_ignores_next_value_after_a_death_but_not_after_a_turn_limit():
    # changing next_values at the terminated turn 2 changes nothing; at the truncated turn 4 it does:
    # next 4 → 14 raises δ4 by 0.9·10 = 9, so Â4 = 11.6 and Â3 = 3.8 + 0.72·11.6 = 12.152
    fn = get_advantage("gae")
    kw = dict(terminated=GAE_TERM, lam=0.8)
    base = fn(GAE_R, GAE_TRAJ, None, GAE_V, 0.9, next_values=GAE_NEXT, **kw)
    dead = fn(GAE_R, GAE_TRAJ, None, GAE_V, 0.9, next_values=torch.tensor([1.0, 3.0, -7.0, 2.0, 4.0]), **kw)
    assert torch.equal(dead.returns, base.returns) and torch.equal(dead.advantages, base.advantages)
    cut = fn(GAE_R, GAE_TRAJ, None, GAE_V, 0.9, next_values=torch.tensor([1.0, 3.0, 100.0, 2.0, 14.0]), **kw)
    close(cut.returns - GAE_V, [0.6056, 0.98, -1.0, 12.152, 11.6])


def test_gae_lambda_one_without_truncation_is_monte_carlo():
    # both trajectories end in a death, next_values[t] = V[t + 1] inside: the δ's telescope to G_t − V_t
    # G (gamma 0.9): traj 0: G2 = 2, G1 = 0 + 0.9·2 = 1.8, G0 = 1 + 0.9·1.8 = 2.62; traj 1: G4 = 1, G3 = 3 + 0.9 = 3.9
    # G − V = [0.62, 0.8, −1, 2.9, −1]
    term = torch.tensor([False, False, True, False, True])
    nxt = torch.tensor([1.0, 3.0, 55.0, 2.0, 66.0])  # the ends' entries are ignored
    out = get_advantage("gae")(GAE_R, GAE_TRAJ, None, GAE_V, 0.9, terminated=term, next_values=nxt, lam=1.0)
    close(out.returns - GAE_V, [0.62, 0.8, -1.0, 2.9, -1.0])
    close(out.returns - GAE_V, (discounted_returns(GAE_R, GAE_TRAJ, 0.9) - GAE_V).tolist())
    close(out.returns, [2.62, 1.8, 2.0, 3.9, 1.0])


def test_gae_lambda_zero_is_one_step_td():
    # lam 0: Â_t = δ_t = [−0.1, 1.7, −1, 3.8, 2.6]
    out = get_advantage("gae")(GAE_R, GAE_TRAJ, None, GAE_V, 0.9, terminated=GAE_TERM, next_values=GAE_NEXT, lam=0.0)
    close(out.returns - GAE_V, [-0.1, 1.7, -1.0, 3.8, 2.6])


def test_gae_needs_values():
    with pytest.raises(ValueError, match="values"):
        get_advantage("gae")(GAE_R, GAE_TRAJ, None, None, 0.9, terminated=GAE_TERM, next_values=GAE_NEXT)


def _rollout_batch(traj_id, terminated, truncated):
    from vlm_rl.rollout import RolloutBatch

    n, k = len(traj_id), int(traj_id.max()) + 1
    return RolloutBatch(
        turns=[None] * n, frames=np.zeros((n, 144, 160, 3), np.uint8), rewards=torch.zeros(n),
        terminated=terminated, truncated=truncated, traj_id=traj_id, group_id=torch.zeros(n, dtype=torch.long),
        scenes=[None] * n, final_frames=np.zeros((k, 144, 160, 3), np.uint8),
    )


def test_rollout_batch_next_values():
    # values [2, 1, 3 | 1, 2], the final frames' values [100, 4]:
    # inside a trajectory V(o_t+1) = values[t + 1]; after its last step, its final frame's value
    # → [1, 3, 100 | 2, 4] (GAE_NEXT above). torch.roll alone would put 1 at turn 2 and 2 at turn 4.
    batch = _rollout_batch(GAE_TRAJ, GAE_TERM, torch.tensor([False, False, False, False, True]))
    assert batch.next_values(GAE_V, torch.tensor([100.0, 4.0])).tolist() == [1.0, 3.0, 100.0, 2.0, 4.0]


def test_rollout_batch_next_values_with_a_one_turn_trajectory():
    # traj [0 | 1 | 2 2 2], values [5 | 6 | 7 8 9], finals [10, 20, 30] → [10 | 20 | 8 9 30]
    no = torch.zeros(5, dtype=torch.bool)
    batch = _rollout_batch(torch.tensor([0, 1, 2, 2, 2]), no, no)
    nxt = batch.next_values(torch.tensor([5.0, 6.0, 7.0, 8.0, 9.0]), torch.tensor([10.0, 20.0, 30.0]))
    assert nxt.tolist() == [10.0, 20.0, 8.0, 9.0, 30.0]


# ---------------------------------------------------------------- finite everywhere


@pytest.mark.parametrize("name", SEVEN)
def test_every_estimator_finite_on_degenerate_batches(name):
    fn = get_advantage(name)
    for r, traj in [
        (torch.zeros(1), torch.zeros(1, dtype=torch.long)),  # one turn
        (torch.zeros(5), torch.tensor([0, 0, 1, 1, 1])),  # all-zero rewards
        (torch.full((3,), 7.0), torch.tensor([4, 4, 4])),  # one trajectory
    ]:
        out = fn(r, traj, None, torch.zeros_like(r), 0.95)
        assert isinstance(out, AdvantageOutput)
        assert torch.isfinite(out.advantages).all() and torch.isfinite(out.returns).all()
        assert out.advantages.shape == out.returns.shape == out.keep.shape == r.shape


# ---------------------------------------------------------------- drop_last_turns


def test_drop_last_turns():
    # lengths 7, 5, 2: only the 7-turn trajectory (> 5) loses its last 5 turns
    traj = torch.tensor([0] * 7 + [1] * 5 + [2] * 2)
    keep = drop_last_turns(traj, n=5)
    assert keep.tolist() == [True, True] + [False] * 5 + [True] * 5 + [True] * 2
    assert drop_last_turns(traj, n=0).all()


# ---------------------------------------------------------------- properties

hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")


@st.composite
def batches(draw):
    lengths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=6))
    t = sum(lengths)
    floats = st.floats(-50, 50, allow_nan=False).map(lambda x: round(x, 1))
    rewards = torch.tensor(draw(st.lists(floats, min_size=t, max_size=t)), dtype=torch.float64)
    values = torch.tensor(draw(st.lists(floats, min_size=t, max_size=t)), dtype=torch.float64)
    traj = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    groups = torch.tensor(draw(st.lists(st.integers(0, 2), min_size=len(lengths), max_size=len(lengths))))
    return rewards, traj, groups[traj], values


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(batches())
def test_properties_of_every_estimator(batch):
    rewards, traj, group, values = batch
    for name in SEVEN:
        out = get_advantage(name)(rewards, traj, group, values, 0.95)
        assert torch.isfinite(out.advantages).all(), name
        if name.endswith("_pos"):
            # positive filtering: nothing negative, keep exactly the positive turns
            assert (out.advantages >= 0).all() and torch.equal(out.keep, out.advantages > 0), name
        else:
            assert out.keep.all(), name
    # ppo_pos is scale-free: multiplying rewards and values by 10 leaves A unchanged
    # (gamma 1 keeps every Ã a multiple of 0.1, so a spread is 0 or ≫ sqrt(1e-8))
    a = get_advantage("ppo_pos")(rewards, traj, group, values, 1.0).advantages
    b = get_advantage("ppo_pos")(10 * rewards, traj, group, 10 * values, 1.0).advantages
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)
