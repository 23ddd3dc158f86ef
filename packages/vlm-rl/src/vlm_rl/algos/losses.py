"""Policy and value losses as pure tensor functions.

Shapes: B turns (one single-turn sample each) × L response tokens. ``mask[B, L]``
marks the response tokens that count (1/True) and padding (0/False).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .registry import register_loss


def _masked_mean(x: Tensor, mask: Tensor, denom: Tensor) -> Tensor:
    return (x * mask).sum() / denom


@register_loss("ppo_clip", options={"eps_low": "clip_low", "eps_high": "clip_high", "dual_clip": "dual_clip",
                                   "kl_coef": "kl_coef"})
def ppo_clip(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    eps_low: float = 0.2,
    eps_high: float = 0.28,
    dual_clip: float | None = 10.0,
    ref_logprobs: Tensor | None = None,
    kl_coef: float = 0.0,
    logits: Tensor | None = None,
    num_tokens: float | Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """PPO clipped surrogate with asymmetric clip and dual clip, token-level mean.

    Per token, with ρ = exp(logprobs − old_logprobs) and the turn's advantage A:

        ℓ     = max(−A·ρ, −A·clip(ρ, 1 − eps_low, 1 + eps_high))
        ℓ     = min(ℓ, −A·c)            only where A < 0     (dual clip, c = dual_clip)
        loss  = Σ mask·ℓ / N  +  kl_coef · Σ mask·k3 / N
        k3    = exp(ref − logprobs) − (ref − logprobs) − 1    (KL(π‖π_ref) estimator)

    N = ``num_tokens`` if given (pass the whole minibatch's token count when a
    minibatch is split into micro-batches for gradient accumulation, so every
    token weighs the same), else mask.sum(). Clipped tokens give zero gradient.

    Args:
        logprobs[B, L]: log π_θ of the sampled tokens (requires grad).
        old_logprobs[B, L]: log π_old at rollout time.
        advantages[B] (one per turn, broadcast over its tokens) or [B, L].
        mask[B, L]: bool or 0/1 float.
        dual_clip: c > 1, or None to disable.
        ref_logprobs[B, L]: reference policy log-probs; required if kl_coef > 0.
        logits[B, L, V]: optional; only used for the ``entropy`` metric.

    Returns:
        (loss scalar, metrics): ``pg_loss``, ``clipfrac`` (tokens whose ratio clip
        is active), ``clipfrac_dual`` (tokens capped by the dual clip),
        ``approx_kl`` (k3 of π_old vs π_θ, mean over tokens), ``ratio_mean``,
        ``kl_ref`` if ref_logprobs given, ``entropy`` if logits given.
    """
    if logprobs.shape != old_logprobs.shape or logprobs.shape != mask.shape or logprobs.dim() != 2:
        raise ValueError(
            f"logprobs, old_logprobs and mask must share shape [B, L]; got {tuple(logprobs.shape)}, "
            f"{tuple(old_logprobs.shape)}, {tuple(mask.shape)}"
        )
    if advantages.dim() == 1:
        if advantages.shape[0] != logprobs.shape[0]:
            raise ValueError(f"advantages[B] must have B={logprobs.shape[0]}, got {advantages.shape[0]}")
        advantages = advantages[:, None]
    elif advantages.shape != logprobs.shape:
        raise ValueError(f"advantages must be [B] or [B, L]; got {tuple(advantages.shape)}")
    if not (0 <= eps_low < 1 and eps_high >= 0):
        raise ValueError(f"need 0 <= eps_low < 1 and eps_high >= 0, got {eps_low}, {eps_high}")
    if dual_clip is not None and dual_clip <= 1:
        raise ValueError(f"dual_clip must be > 1 (or None), got {dual_clip}")
    if kl_coef > 0 and ref_logprobs is None:
        raise ValueError("kl_coef > 0 needs ref_logprobs")

    mask = mask.to(logprobs.dtype)
    denom = mask.sum() if num_tokens is None else torch.as_tensor(num_tokens, dtype=logprobs.dtype, device=mask.device)
    denom = denom.clamp(min=1)  # an all-padding micro-batch gives loss 0, not NaN
    adv = advantages.detach().to(logprobs.dtype)

    log_ratio = logprobs - old_logprobs.detach()
    ratio = torch.exp(log_ratio)
    pg1 = -adv * ratio
    pg2 = -adv * ratio.clamp(1 - eps_low, 1 + eps_high)
    pg = torch.maximum(pg1, pg2)
    dual = torch.zeros_like(pg, dtype=torch.bool)
    if dual_clip is not None:
        # A < 0 and ρ ≫ 1: the unclipped branch is unbounded, cap it at −A·c
        pg3 = -adv * dual_clip
        dual = (adv < 0) & (pg > pg3)
        pg = torch.where(dual, pg3.expand_as(pg), pg)
    pg_loss = _masked_mean(pg, mask, denom)
    loss = pg_loss

    with torch.no_grad():
        metrics = {
            "pg_loss": pg_loss.item(),
            "clipfrac": _masked_mean((pg2 > pg1).to(mask.dtype), mask, denom).item(),
            "clipfrac_dual": _masked_mean(dual.to(mask.dtype), mask, denom).item(),
            "approx_kl": _masked_mean((ratio - 1) - log_ratio, mask, denom).item(),
            "ratio_mean": _masked_mean(ratio, mask, denom).item(),
        }
    if ref_logprobs is not None:
        d = ref_logprobs.detach() - logprobs
        kl = _masked_mean(torch.exp(d) - d - 1, mask, denom)
        metrics["kl_ref"] = kl.item()
        if kl_coef:
            loss = loss + kl_coef * kl
    if logits is not None:
        with torch.no_grad():
            logp = torch.log_softmax(logits.float(), dim=-1)
            ent = -(logp.exp() * logp).sum(-1)
            metrics["entropy"] = _masked_mean(ent, mask.float(), denom.float()).item()
    return loss, metrics


def value_loss(values: Tensor, targets: Tensor, *, scale: float = 1.0, beta: float = 1.0) -> Tensor:
    """SmoothL1(values/scale, targets/scale), mean over the batch.

    values[B] critic output, targets[B] return-to-go (both in reward units) → scalar.
    With scale = the critic's value_scale (100) this is the paper's loss on RTG/100.
    """
    if values.shape != targets.shape:
        raise ValueError(f"values and targets must share a shape, got {tuple(values.shape)} vs {tuple(targets.shape)}")
    return F.smooth_l1_loss(values / scale, targets.detach().to(values.dtype) / scale, beta=beta)
