"""Generalised advantage estimation: the one bootstrapped estimator, registered like the others."""

from __future__ import annotations

import torch
from torch import Tensor

from .advantages import AdvantageOutput, _check_rewards, _check_same_shape, _out, _segments, _standardise
from .registry import register_advantage


@register_advantage("gae", needs_values=True, inputs=("terminated", "next_values"), options={"lam": "lam"})
def gae(
    rewards: Tensor,
    traj_id: Tensor,
    group_id: Tensor | None = None,
    values: Tensor | None = None,
    gamma: float = 0.95,
    *,
    terminated: Tensor,
    next_values: Tensor,
    lam: float = 0.95,
) -> AdvantageOutput:
    """Generalised advantage estimation, bootstrapped where an episode was cut short.

        δ_t = r_t + γ·(1 − terminated_t)·V'_t − V(o_t)
        Â_t = δ_t + γλ·Â_{t+1}         (inside the trajectory; 0 after its last turn)
        returns_t = Â_t + V(o_t)         (the critic's target, reward units)
        A_t = (Â_t − mean Â) / sqrt(var_unbiased Â + 1e-8)   (over the batch)

    ``next_values[T]``: V of the observation after turn t: V(o_{t+1}) inside a
    trajectory, V(final observation) at the end of a truncated one (turn limit);
    ignored where ``terminated[T]`` is True (death, level complete). λ = 1 with
    no truncation gives the Monte-Carlo G_t − V(o_t). ``group_id`` is ignored.
    keep: all True. Shapes: [T] in, [T] out.
    """
    _check_rewards(rewards, traj_id)
    if values is None:
        raise ValueError("GAE needs critic values: pass values[T]")
    for name, x in (("values", values), ("next_values", next_values), ("terminated", terminated)):
        _check_same_shape(rewards, name, x)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    s = _segments(traj_id)
    v = values.detach().double()
    delta = rewards.double() + gamma * (~terminated.bool()).double() * next_values.detach().double() - v
    longest = int(s.lengths.max())
    buf = torch.zeros(s.n, longest + 1, dtype=torch.float64, device=rewards.device)
    buf[s.seg, s.pos] = delta
    for t in range(longest - 1, -1, -1):
        buf[:, t] += gamma * lam * buf[:, t + 1]
    adv = buf[s.seg, s.pos]
    ret = adv + v
    return _out(_standardise(adv, torch.zeros_like(traj_id)), ret, None, rewards)
