"""Turn-level advantage estimators (paper Appendix C.1) as pure tensor functions.

Every estimator works on a flat batch of T turns and has the same call::

    fn(rewards, traj_id, group_id=None, values=None, gamma=..., **options) -> AdvantageOutput

- ``rewards[T]`` float: the turn's reward r_t.
- ``traj_id[T]`` long: a trajectory's turns are contiguous and in time order.
- ``group_id[T]`` long: trajectories started from the same saved state share a
  group. ``None`` = the whole batch is one group.
- ``values[T]`` float: critic values V(o_t) in reward units (PPO only).
- ``gamma``: discount; the GRPO estimators ignore it (they are undiscounted by
  definition) and only accept it so every estimator takes the same call.
- further per-turn inputs (``terminated``, ``next_values``) and options
  (``scope``, ``lam``) as each estimator's registry entry declares.

``AdvantageOutput.returns`` is the un-normalised return the advantage is built
from, in reward units: the discounted return-to-go for ``ppo*``/``reinforce_pp``
(the critic's target), the trajectory's total reward for ``grpo_outcome*``, the
undiscounted return-to-go of the raw rewards for ``grpo_process*``.
``keep`` is False for turns to drop before the actor update (zero advantage
under positive filtering). :func:`drop_last_turns` is applied to the batch
before any estimator runs.

Statistics are computed in float64; outputs have the dtype of ``rewards``.
Standard deviations are unbiased (n − 1), as ``torch.std``/``torch.var``, and
a standardisation divides by sqrt(var + 1e-8), as the authors' code does.
A group whose values are all equal (a one-trajectory group included) has no
spread to learn from: its standardised values are exactly 0, never NaN.
"Equal" allows rounding noise: a spread below 1e-6 of the values' magnitude.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .registry import register_advantage

EPS = 1e-8  # added to variances before the square root
# Values that differ by less than FLAT_RTOL of their magnitude count as equal:
# 0.95 − 0 and (−3 + 0.95) − (−3) differ in the last bit, and dividing that
# rounding noise by sqrt(0 + EPS) would turn it into advantages of ~10^4.
FLAT_RTOL = 1e-6
Scope = Literal["group", "batch"]


class AdvantageOutput(NamedTuple):
    advantages: Tensor  # [T] float
    returns: Tensor  # [T] float, reward units
    keep: Tensor  # [T] bool


# ---------------------------------------------------------------- helpers


class _Segments(NamedTuple):
    seg: Tensor  # [T] long, trajectory index 0..N-1 in batch order
    n: int  # N trajectories
    pos: Tensor  # [T] long, turn index inside its trajectory
    lengths: Tensor  # [N] long
    starts: Tensor  # [N] long, flat index of each trajectory's first turn


def _segments(traj_id: Tensor) -> _Segments:
    if traj_id.dim() != 1:
        raise ValueError(f"traj_id must be 1-D [T], got shape {tuple(traj_id.shape)}")
    if traj_id.dtype.is_floating_point or traj_id.dtype == torch.bool:
        raise ValueError(f"traj_id must be an integer tensor, got {traj_id.dtype}")
    if traj_id.numel() == 0:
        raise ValueError("empty batch: traj_id has no turns")
    change = traj_id[1:] != traj_id[:-1]
    seg = torch.cat([change.new_zeros(1, dtype=torch.long), change.long().cumsum(0)])
    n = int(seg[-1]) + 1
    if n != torch.unique(traj_id).numel():
        raise ValueError(
            "traj_id must be contiguous (each trajectory's turns in one block, in time order); "
            f"found {n} blocks but {torch.unique(traj_id).numel()} distinct ids"
        )
    lengths = torch.bincount(seg, minlength=n)
    starts = lengths.cumsum(0) - lengths
    pos = torch.arange(seg.numel(), device=seg.device) - starts[seg]
    return _Segments(seg, n, pos, lengths, starts)


def _check_same_shape(ref: Tensor, name: str, x: Tensor | None) -> None:
    if x is not None and x.shape != ref.shape:
        raise ValueError(f"{name} must have shape {tuple(ref.shape)} like rewards, got {tuple(x.shape)}")


def _check_rewards(rewards: Tensor, traj_id: Tensor) -> None:
    if rewards.dim() != 1 or not rewards.dtype.is_floating_point:
        raise ValueError(f"rewards must be a 1-D float tensor [T], got {rewards.dtype} {tuple(rewards.shape)}")
    _check_same_shape(rewards, "traj_id", traj_id)


def _traj_groups(s: _Segments, group_id: Tensor | None, scope: Scope) -> Tensor:
    """[N] group label per trajectory (all zeros for one group)."""
    if scope not in ("group", "batch"):
        raise ValueError(f"scope must be 'group' or 'batch', got {scope!r}")
    if scope == "batch" or group_id is None:
        return torch.zeros(s.n, dtype=torch.long, device=s.seg.device)
    g = group_id[s.starts]
    if not torch.equal(g[s.seg], group_id):
        raise ValueError("group_id must be constant within each trajectory")
    return g


def _flat(hi: Tensor, lo: Tensor) -> Tensor:
    """max − min within rounding noise of the magnitude (exactly equal included)."""
    return (hi - lo) <= FLAT_RTOL * torch.maximum(hi.abs(), lo.abs())


def _standardise(x: Tensor, group: Tensor) -> Tensor:
    """(x − mean_g) / sqrt(var_g + EPS) per group; exactly 0 where a group is flat.

    x[n] float64, group[n] long labels (any values) → [n] float64.
    """
    _, g = torch.unique(group, return_inverse=True)
    k = int(g.max()) + 1
    count = torch.bincount(g, minlength=k).to(x.dtype)
    mean = torch.zeros(k, dtype=x.dtype, device=x.device).index_add_(0, g, x) / count
    c = x - mean[g]
    var = torch.zeros(k, dtype=x.dtype, device=x.device).index_add_(0, g, c * c) / (count - 1).clamp(min=1)
    hi = torch.full((k,), -torch.inf, dtype=x.dtype, device=x.device).scatter_reduce(0, g, x, "amax")
    lo = torch.full((k,), torch.inf, dtype=x.dtype, device=x.device).scatter_reduce(0, g, x, "amin")
    # a flat group (one member included) has mean == x up to rounding: say 0 exactly
    flat = _flat(hi, lo)
    return torch.where(flat[g], torch.zeros_like(c), c / torch.sqrt(var[g] + EPS))


def _scale(x: Tensor) -> Tensor:
    """Divisor that gives x unit spread without centring: sqrt(var_unbiased(x) + EPS).

    Fallback when the unbiased variance is undefined or zero (one entry, or all
    entries equal up to rounding noise): divide by the entries' mean magnitude,
    so they become ±1, the size a normalised advantage usually has (dividing by
    sqrt(EPS) would blow them up 10^4×, dividing by 1 would keep raw reward
    units). 1 if x is all zeros or empty. x[n] float64 → scalar tensor.
    """
    if x.numel() >= 2 and not bool(_flat(x.max(), x.min())):
        return torch.sqrt(x.var(unbiased=True) + EPS)
    m = x.abs().mean() if x.numel() else x.new_zeros(())
    return torch.where(m > 0, m, torch.ones_like(m))


def _out(adv: Tensor, ret: Tensor, keep: Tensor | None, like: Tensor) -> AdvantageOutput:
    if keep is None:
        keep = torch.ones_like(adv, dtype=torch.bool)
    return AdvantageOutput(adv.to(like.dtype), ret.to(like.dtype), keep)


def _positive(adv: Tensor, ret: Tensor, like: Tensor) -> AdvantageOutput:
    adv = adv.clamp(min=0)
    return _out(adv, ret, adv > 0, like)


# ------------------------------------------------------------- public helpers


def discounted_returns(rewards: Tensor, traj_id: Tensor, gamma: float) -> Tensor:
    """Return-to-go inside each trajectory: G_t = Σ_{i ≥ t, same trajectory} γ^(i−t) r_i.

    rewards[T] float, traj_id[T] long (contiguous, time-ordered) → G[T], dtype of rewards.
    The sum stops at the trajectory's last turn (no bootstrap: the paper uses
    Monte-Carlo returns). Loops over the longest trajectory's length, each step
    vectorised over all trajectories.
    """
    _check_rewards(rewards, traj_id)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    s = _segments(traj_id)
    longest = int(s.lengths.max())
    # [N, L+1] with a zero column past every trajectory's end: nothing leaks across
    buf = torch.zeros(s.n, longest + 1, dtype=torch.float64, device=rewards.device)
    buf[s.seg, s.pos] = rewards.double()
    for t in range(longest - 1, -1, -1):
        buf[:, t] += gamma * buf[:, t + 1]
    return buf[s.seg, s.pos].to(rewards.dtype)


def drop_last_turns(traj_id: Tensor, n: int = 5) -> Tensor:
    """keep[T] bool: False for the last ``n`` turns of every trajectory longer than ``n``.

    The authors' code drops the last 5 turns of trajectories longer than 5
    (their code gives no reason; plausibly the last turns before a death carry
    misleading credit). Off by default in this package. The trainer applies it
    to the batch before the estimator, so the dropped turns leave the
    estimator's statistics, the critic's targets and the curriculum's turn
    counts, as in the authors' code. traj_id[T] long → [T] bool.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    s = _segments(traj_id)
    length = s.lengths[s.seg]
    return ~((length > n) & (s.pos >= length - n))


# ------------------------------------------------------------------ estimators


def _ppo_raw(rewards, traj_id, values, gamma) -> tuple[Tensor, Tensor]:
    _check_rewards(rewards, traj_id)
    if values is None:
        raise ValueError("PPO advantages need critic values: pass values[T]")
    _check_same_shape(rewards, "values", values)
    ret = discounted_returns(rewards, traj_id, gamma).double()
    v = values.detach().double()
    raw = ret - v
    # G − V that is only rounding noise (33 − 32.8 − 0.2 = 3e-15) is 0: positive
    # filtering would otherwise keep it as a real, if tiny, advantage
    noise = FLAT_RTOL * torch.maximum(ret.abs(), v.abs())
    return torch.where(raw.abs() <= noise, torch.zeros_like(raw), raw), ret


@register_advantage("ppo", needs_values=True)
def ppo(
    rewards: Tensor,
    traj_id: Tensor,
    group_id: Tensor | None = None,
    values: Tensor | None = None,
    gamma: float = 0.95,
) -> AdvantageOutput:
    """Turn-level PPO with a Monte-Carlo critic baseline (no GAE).

        Ã_t = G_t − V(o_t),   G_t = Σ_{i≥t} γ^(i−t) r_i
        A_t = Ã_t / sqrt(var_unbiased{Ã} + 1e-8)     (batch statistics, no centring)

    One turn, or all Ã equal: A_t = Ã_t / mean|Ã| (±1; 0 if all Ã are 0).
    ``group_id`` is ignored. keep: all True. Shapes: [T] in, [T] out.
    """
    raw, ret = _ppo_raw(rewards, traj_id, values, gamma)
    return _out(raw / _scale(raw), ret, None, rewards)


@register_advantage("ppo_pos", needs_values=True)
def ppo_pos(
    rewards: Tensor,
    traj_id: Tensor,
    group_id: Tensor | None = None,
    values: Tensor | None = None,
    gamma: float = 0.95,
) -> AdvantageOutput:
    """PPO with positive-advantage filtering (paper Eq. 1, the Odysseus recipe).

        a_t = max(G_t − V(o_t), 0)
        A_t = a_t / sqrt(var_unbiased{a_t' : a_t' > 0} + 1e-8)    (no centring)
        keep_t = a_t > 0

    Edge cases (the authors' code crashes or explodes on them):
    - no positive entry: A = 0 everywhere and keep is all False; the trainer
      must skip the actor step (the critic still trains).
    - exactly one positive entry, or all positive entries equal (unbiased
      variance undefined / zero): A_t = a_t / mean(positive a) = 1 for kept turns.
    ``group_id`` is ignored. Shapes: [T] in, [T] out.
    """
    raw, ret = _ppo_raw(rewards, traj_id, values, gamma)
    a = raw.clamp(min=0)
    pos = a[a > 0]
    return _out(a / _scale(pos), ret, a > 0, rewards)


def _grpo_outcome(rewards, traj_id, group_id, scope) -> tuple[Tensor, Tensor]:
    _check_rewards(rewards, traj_id)
    _check_same_shape(rewards, "group_id", group_id)
    s = _segments(traj_id)
    total = torch.zeros(s.n, dtype=torch.float64, device=rewards.device).index_add_(0, s.seg, rewards.double())
    adv = _standardise(total, _traj_groups(s, group_id, scope))
    return adv[s.seg], total[s.seg]


@register_advantage("grpo_outcome", options={"scope": "scope"})
def grpo_outcome(
    rewards: Tensor,
    traj_id: Tensor,
    group_id: Tensor | None = None,
    values: Tensor | None = None,
    gamma: float = 1.0,
    *,
    scope: Scope = "group",
) -> AdvantageOutput:
    """GRPO with outcome rewards (paper Eqs. 2-3): one advantage per trajectory.

        R(τ) = Σ_t r_t                          (undiscounted; ``gamma`` ignored)
        A_t  = (R(τ) − mean_{τ'∈G} R(τ')) / sqrt(var_unbiased{R(τ') : τ' ∈ G} + 1e-8)

    for every turn t of τ. Statistics are over trajectories (each counts once,
    however many turns it has). G is the trajectory's group (``scope="group"``,
    trajectories that share a start state: the faithful general form) or the
    whole batch (``scope="batch"``: what the authors' code does; in their runs
    every trajectory started from one state, so the two agreed).
    A group of one trajectory, or whose returns are all equal, gets A = 0.
    keep: all True. Shapes: [T] in, [T] out.
    """
    adv, ret = _grpo_outcome(rewards, traj_id, group_id, scope)
    return _out(adv, ret, None, rewards)


@register_advantage("grpo_outcome_pos", options={"scope": "scope"})
def grpo_outcome_pos(
    rewards: Tensor,
    traj_id: Tensor,
    group_id: Tensor | None = None,
    values: Tensor | None = None,
    gamma: float = 1.0,
    *,
    scope: Scope = "group",
) -> AdvantageOutput:
    """``grpo_outcome`` clamped at 0: A_t = max(A_t, 0); keep_t = A_t > 0. Shapes: [T]."""
    adv, ret = _grpo_outcome(rewards, traj_id, group_id, scope)
    return _positive(adv, ret, rewards)


def _grpo_process(rewards, traj_id, group_id, scope) -> tuple[Tensor, Tensor]:
    _check_rewards(rewards, traj_id)
    _check_same_shape(rewards, "group_id", group_id)
    s = _segments(traj_id)
    group = _traj_groups(s, group_id, scope)[s.seg]
    r_std = _standardise(rewards.double(), group)
    adv = discounted_returns(r_std, traj_id, 1.0)
    ret = discounted_returns(rewards.double(), traj_id, 1.0)
    return adv, ret


@register_advantage("grpo_process", options={"scope": "scope"})
def grpo_process(
    rewards: Tensor,
    traj_id: Tensor,
    group_id: Tensor | None = None,
    values: Tensor | None = None,
    gamma: float = 1.0,
    *,
    scope: Scope = "group",
) -> AdvantageOutput:
    """GRPO with process rewards: standardise turn rewards, then undiscounted return-to-go.

        r̃_t = (r_t − mean{r}) / sqrt(var_unbiased{r} + 1e-8)    (over turns of the group/batch)
        A_t = Σ_{i ≥ t, same trajectory} r̃_i                   (``gamma`` ignored)

    Statistics are over turns (each turn counts once). ``scope`` as in
    ``grpo_outcome`` (the paper and the authors' code: the batch). All-equal
    rewards give r̃ = 0 and A = 0. keep: all True. Shapes: [T] in, [T] out.
    """
    adv, ret = _grpo_process(rewards, traj_id, group_id, scope)
    return _out(adv, ret, None, rewards)


@register_advantage("grpo_process_pos", options={"scope": "scope"})
def grpo_process_pos(
    rewards: Tensor,
    traj_id: Tensor,
    group_id: Tensor | None = None,
    values: Tensor | None = None,
    gamma: float = 1.0,
    *,
    scope: Scope = "group",
) -> AdvantageOutput:
    """``grpo_process`` clamped at 0: A_t = max(A_t, 0); keep_t = A_t > 0. Shapes: [T]."""
    adv, ret = _grpo_process(rewards, traj_id, group_id, scope)
    return _positive(adv, ret, rewards)


@register_advantage("reinforce_pp")
def reinforce_pp(
    rewards: Tensor,
    traj_id: Tensor,
    group_id: Tensor | None = None,
    values: Tensor | None = None,
    gamma: float = 0.95,
) -> AdvantageOutput:
    """Turn-level Reinforce++: the discounted return-to-go whitened over the batch.

        G_t = Σ_{i≥t} γ^(i−t) r_i
        A_t = (G_t − mean{G}) / sqrt(var_unbiased{G} + 1e-8)

    Each turn weighs once in mean and variance. The authors' version takes the
    statistics over response tokens, so a long response weighs more; with equal
    response lengths the two agree. All-equal G gives A = 0. ``group_id`` and
    ``values`` are ignored. keep: all True. Shapes: [T] in, [T] out.
    """
    ret = discounted_returns(rewards, traj_id, gamma).double()
    adv = _standardise(ret, torch.zeros_like(traj_id))
    return _out(adv, ret, None, rewards)

