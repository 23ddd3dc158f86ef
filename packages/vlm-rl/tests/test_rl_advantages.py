"""`vlm_rl.stages.rl.advantages`: every process's turns gathered, the estimator run once, this rank's part
sliced back. Two fake processes, checked against numbers worked out by hand.

    rank 0: 3 turns            rank 1: 4 turns
    traj_id   0  0  1          traj_id   0  1  1  1      (each rank counts its trajectories from 0)
    group_id  0  0  1          group_id  2  3  3  3      (the trainer's groups are unique across ranks)
    reward    1  3  1          reward    0  4  1  2
    V         0.5 1  2         V         1  1  1  0

Gathered, rank 1's trajectory ids are shifted by rank 0's count (2): traj_id = [0 0 1 | 2 3 3 3].
Without the shift the ids [0 0 1 0 1 1 1] are not contiguous and the estimators refuse them; with a
shift of 1, rank 0's trajectory 1 and rank 1's trajectory 0 would merge into one.
"""

import pytest
import torch

from vlm_rl.algos import get_advantage_entry
from vlm_rl.config import AlgoCfg
from vlm_rl.rollout import RolloutBatch
from vlm_rl.stages.rl import advantages

R = [torch.tensor([1.0, 3.0, 1.0]), torch.tensor([0.0, 4.0, 1.0, 2.0])]
TRAJ = [torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1, 1])]
GROUP = [torch.tensor([0, 0, 1]), torch.tensor([2, 3, 3, 3])]
V = [torch.tensor([0.5, 1.0, 2.0]), torch.tensor([1.0, 1.0, 1.0, 0.0])]


def _batch(rank: int) -> RolloutBatch:
    n = len(R[rank])
    no = torch.zeros(n, dtype=torch.bool)
    return RolloutBatch(turns=[None] * n, frames=torch.zeros(n, 1).numpy(), rewards=R[rank], terminated=no,
                        truncated=no, traj_id=TRAJ[rank], group_id=GROUP[rank], scenes=[None] * n,
                        final_frames=torch.zeros(int(TRAJ[rank].max()) + 1, 1).numpy())


class _Recorder:
    """A one-process Dist that keeps what the rank would send (the gathered object's format stays opaque)."""

    def __init__(self, rank: int):
        self.rank, self.world, self.sent = rank, 1, []

    def gather(self, obj):
        self.sent.append(obj)
        return [obj]


class FakeDist:
    """Rank `rank` of 2: gather returns both ranks' objects, this rank's own one in its place."""

    def __init__(self, rank: int, sent: list):
        self.rank, self.world, self.sent = rank, 2, sent

    def gather(self, obj):
        parts = list(self.sent)
        parts[self.rank] = obj
        return parts


def _run_both_ranks(name: str, algo: AlgoCfg):
    entry = get_advantage_entry(name)
    sent = []
    for rank in (0, 1):  # what each rank contributes to the gather
        rec = _Recorder(rank)
        advantages(entry, algo, rec, _batch(rank), V[rank], V[rank])
        assert len(rec.sent) == 1
        sent += rec.sent
    return [advantages(entry, algo, FakeDist(rank, sent), _batch(rank), V[rank], V[rank]) for rank in (0, 1)]


def _by_hand_on_the_whole(name: str, algo: AlgoCfg):
    """The estimator called directly on the concatenated batch, trajectory ids made unique."""
    entry = get_advantage_entry(name)
    traj = torch.cat([TRAJ[0], TRAJ[1] + 2])
    assert traj.tolist() == [0, 0, 1, 2, 3, 3, 3]
    return entry.fn(torch.cat(R).double(), traj, torch.cat(GROUP), torch.cat(V).double(), algo.gamma,
                    **entry.kwargs(algo))


def _close(x, expected):
    assert torch.allclose(x.double(), torch.as_tensor(expected, dtype=torch.float64), atol=1e-5), (x.tolist(), expected)


def test_ppo_pos_slices_of_the_gathered_batch_by_hand():
    # gamma 0.5. G: rank 0: traj 0 [1 + 0.5·3, 3] = [2.5, 3], traj 1 [1]
    #              rank 1: traj 0 [0], traj 1 [4 + 0.5·2, 1 + 0.5·2, 2] = [5, 2, 2]
    # a = max(G − V, 0): rank 0 [2, 2, −1 → 0], rank 1 [−1 → 0, 4, 1, 2]
    # positives over both ranks {2, 2, 4, 1, 2}: mean 2.2, deviations −0.2 −0.2 1.8 −1.2 −0.2,
    #   squares 0.04 + 0.04 + 3.24 + 1.44 + 0.04 = 4.8, unbiased var 1.2, sqrt(1.2 + 1e-8) = 1.095445
    # A = a / 1.095445: rank 0 [1.825742, 1.825742, 0], rank 1 [0, 3.651484, 0.912871, 1.825742]
    # (rank 0's statistics alone, {2, 2}, are flat: its A would be [1, 1, 0])
    algo = AlgoCfg(gamma=0.5)
    (a0, ret0, keep0), (a1, ret1, keep1) = _run_both_ranks("ppo_pos", algo)
    _close(a0, [1.825742, 1.825742, 0.0])
    _close(a1, [0.0, 3.651484, 0.912871, 1.825742])
    _close(ret0, [2.5, 3.0, 1.0])
    _close(ret1, [0.0, 5.0, 2.0, 2.0])
    assert keep0.tolist() == [True, True, False] and keep1.tolist() == [False, True, True, True]
    whole = _by_hand_on_the_whole("ppo_pos", algo)
    assert torch.allclose(torch.cat([a0, a1]).double(), whole.advantages, atol=1e-6)
    assert torch.allclose(torch.cat([ret0, ret1]).double(), whole.returns, atol=1e-6)
    assert torch.equal(torch.cat([keep0, keep1]), whole.keep)
    assert a0.dtype == ret0.dtype == torch.float32 and keep0.dtype == torch.bool


def test_grpo_outcome_batch_scope_slices_of_the_gathered_batch_by_hand():
    # totals R(τ): rank 0: 1 + 3 = 4, 1; rank 1: 0, 4 + 1 + 2 = 7 → {4, 1, 0, 7} over both ranks
    # mean 3, deviations 1 −2 −3 4, squares 1 + 4 + 9 + 16 = 30, unbiased var 10, sqrt(10 + 1e-8) = 3.162278
    # A per trajectory: [0.316228, −0.632456, −0.948683, 1.264911], repeated over each trajectory's turns
    algo = AlgoCfg(scope="batch", gamma=0.5)  # gamma is ignored by GRPO
    (a0, ret0, keep0), (a1, ret1, keep1) = _run_both_ranks("grpo_outcome", algo)
    _close(a0, [0.316228, 0.316228, -0.632456])
    _close(a1, [-0.948683, 1.264911, 1.264911, 1.264911])
    _close(ret0, [4.0, 4.0, 1.0])
    _close(ret1, [0.0, 7.0, 7.0, 7.0])
    assert keep0.all() and keep1.all()
    whole = _by_hand_on_the_whole("grpo_outcome", algo)
    assert torch.allclose(torch.cat([a0, a1]).double(), whole.advantages, atol=1e-6)
    assert torch.allclose(torch.cat([ret0, ret1]).double(), whole.returns, atol=1e-6)


def test_grpo_outcome_group_scope_uses_the_unique_groups():
    # scope=group: groups {0: τ0 (4)}, {1: τ1 (1)}, {2: τ2 (0)}, {3: τ3 (7)} each hold one trajectory → A = 0
    (a0, _, _), (a1, _, _) = _run_both_ranks("grpo_outcome", AlgoCfg(scope="group"))
    assert a0.tolist() == [0.0] * 3 and a1.tolist() == [0.0] * 4


def test_a_one_process_run_is_the_estimator_itself():
    # world 1: the slice is the whole; ppo_pos on rank 0 alone: positives {2, 2} are flat → A = a / 2 = [1, 1, 0]
    a, ret, keep = advantages(get_advantage_entry("ppo_pos"), AlgoCfg(gamma=0.5), _Recorder(0), _batch(0), V[0], V[0])
    _close(a, [1.0, 1.0, 0.0])
    _close(ret, [2.5, 3.0, 1.0])
    assert keep.tolist() == [True, True, False]


@pytest.mark.parametrize("rank", [0, 1])
def test_gae_gathers_next_values_and_terminated(rank):
    # gae reads terminated and next_values through the gather too. lam 0, gamma 0.5, V' = V + 50,
    # rank 1's last turn a death: returns = Â + V = δ + V = r + 0.5·(1 − term)·V'
    #   rank 0: [1 + 0.5·50.5, 3 + 0.5·51, 1 + 0.5·52] = [26.25, 28.5, 27]
    #   rank 1: [0 + 0.5·51, 4 + 0.5·51, 1 + 0.5·51, 2 + 0] = [25.5, 29.5, 26.5, 2]
    entry = get_advantage_entry("gae")
    algo = AlgoCfg(advantage="gae", gamma=0.5, lam=0.0)
    term = [torch.tensor([False, False, False]), torch.tensor([False, False, False, True])]

    def batch(r):
        b = _batch(r)
        b.terminated = term[r]
        return b

    sent = []
    for r in (0, 1):
        rec = _Recorder(r)
        advantages(entry, algo, rec, batch(r), V[r], V[r] + 50.0)
        sent += rec.sent
    _, ret, _ = advantages(entry, algo, FakeDist(rank, sent), batch(rank), V[rank], V[rank] + 50.0)
    _close(ret, [[26.25, 28.5, 27.0], [25.5, 29.5, 26.5, 2.0]][rank])
