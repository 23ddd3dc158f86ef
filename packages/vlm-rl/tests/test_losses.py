"""ppo_clip and value_loss against numbers worked out by hand.

old_logprobs = 0, so each token's ratio ρ is exp(logprobs): logprobs = log ρ.
Defaults: eps_low 0.2 → lower bound 0.8, eps_high 0.28 → upper bound 1.28, dual clip c = 10.

    turn 0, A = +1, ρ = [1.1, 1.5, 0.5, (pad 100)]
      1.1: inside                       ℓ = −1.1           grad −A·ρ = −1.1
      1.5: above 1.28, A > 0 → clipped  ℓ = −1.28          grad 0
      0.5: below 0.8 but A > 0: the pessimistic max keeps the unclipped −0.5
                                        ℓ = −0.5           grad −0.5
      pad: masked out                                      grad 0
    turn 1, A = −2, ρ = [0.7, 1.2, 30, 2.0]
      0.7: below 0.8, A < 0 → clipped   ℓ = max(1.4, 1.6) = 1.6   grad 0
      1.2: inside                       ℓ = 2.4            grad −A·ρ = 2.4
      30:  max(60, 2.56) = 60 > c·|A| = 20 → dual clip   ℓ = 20   grad 0
      2.0: max(4, 2.56) = 4 < 20, not clipped             ℓ = 4    grad 4
    token mean over 7 tokens: (−1.1 − 1.28 − 0.5 + 1.6 + 2.4 + 20 + 4)/7 = 25.12/7 = 3.588571
"""

import math

import pytest
import torch

from vlm_rl.algos import get_loss, value_loss

RATIO = torch.tensor([[1.1, 1.5, 0.5, 100.0], [0.7, 1.2, 30.0, 2.0]])
MASK = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
ADV = torch.tensor([1.0, -2.0])


def run(ratio=RATIO, adv=ADV, mask=MASK, **kw):
    logp = ratio.log().clone().requires_grad_(True)
    loss, metrics = get_loss("ppo_clip")(logp, torch.zeros_like(logp), adv, mask, **kw)
    loss.backward()
    return loss, metrics, logp.grad


def test_ppo_clip_loss_by_hand():
    loss, _, _ = run()
    assert loss.item() == pytest.approx(25.12 / 7, rel=1e-6)


def test_ppo_clip_gradient_zero_for_clipped_tokens():
    _, _, grad = run()
    # d loss / d log ρ = dℓ/dlog ρ / 7 for kept tokens (see module docstring)
    expected = torch.tensor([[-1.1, 0.0, -0.5, 0.0], [0.0, 2.4, 0.0, 4.0]]) / 7
    assert torch.allclose(grad, expected, atol=1e-6)


def test_ppo_clip_metrics_by_hand():
    _, m, _ = run()
    # ratio-clipped tokens: ρ=1.5 (A>0) and ρ=0.7 (A<0) → 2/7; dual-clipped: ρ=30 → 1/7
    assert m["clipfrac"] == pytest.approx(2 / 7)
    assert m["clipfrac_dual"] == pytest.approx(1 / 7)
    # (1.1 + 1.5 + 0.5 + 0.7 + 1.2 + 30 + 2)/7 = 37/7, padding excluded
    assert m["ratio_mean"] == pytest.approx(37 / 7)
    # Σ (ρ − 1 − ln ρ)/7: 0.004690 + 0.094535 + 0.193147 + 0.056675 + 0.017678 + 25.598803 + 0.306853
    assert m["approx_kl"] == pytest.approx(26.272381 / 7, rel=1e-5)
    assert m["pg_loss"] == pytest.approx(25.12 / 7, rel=1e-6)
    assert "entropy" not in m and "kl_ref" not in m


def test_dual_clip_off():
    # without dual clip the ρ=30 token costs 60 instead of 20: (25.12 + 40)/7
    loss, m, _ = run(dual_clip=None)
    assert loss.item() == pytest.approx(65.12 / 7, rel=1e-6)
    assert m["clipfrac_dual"] == 0.0


def test_token_mean_weights_every_token_once():
    # turn 0: 1 token, A=1, ρ=1 → ℓ=−1; turn 1: 3 tokens, A=3, ρ=1 → ℓ=−3 each
    # token mean (−1 − 9)/4 = −2.5 (a mean of turn means would give −2)
    ratio = torch.ones(2, 3)
    mask = torch.tensor([[1, 0, 0], [1, 1, 1]])
    loss, _, _ = run(ratio, torch.tensor([1.0, 3.0]), mask)
    assert loss.item() == pytest.approx(-2.5)


def test_num_tokens_makes_micro_batches_add_up():
    full, _, _ = run()
    parts = [run(RATIO[i : i + 1], ADV[i : i + 1], MASK[i : i + 1], num_tokens=7)[0] for i in range(2)]
    assert (parts[0] + parts[1]).item() == pytest.approx(full.item(), rel=1e-6)


def test_per_token_advantages_accepted():
    loss, _, _ = run(adv=ADV[:, None].expand(2, 4))
    assert loss.item() == pytest.approx(25.12 / 7, rel=1e-6)


def test_kl_to_reference_k3():
    # A = 0 so the surrogate is 0; log π = 0, ref = ln 2 on every token:
    # k3 = e^{ln 2} − ln 2 − 1 = 1 − ln 2 = 0.306853; loss = 0.1 · 0.306853
    logp = torch.zeros(1, 2, requires_grad=True)
    ref = torch.full((1, 2), math.log(2))
    loss, m = get_loss("ppo_clip")(logp, logp.detach(), torch.zeros(1), torch.ones(1, 2), ref_logprobs=ref, kl_coef=0.1)
    assert loss.item() == pytest.approx(0.1 * (1 - math.log(2)), rel=1e-6)
    assert m["kl_ref"] == pytest.approx(1 - math.log(2), rel=1e-6)
    # KL metric is reported even at the default coefficient 0, without changing the loss
    loss0, m0 = get_loss("ppo_clip")(logp, logp.detach(), torch.zeros(1), torch.ones(1, 2), ref_logprobs=ref)
    assert loss0.item() == 0.0 and m0["kl_ref"] == pytest.approx(1 - math.log(2), rel=1e-6)


def test_kl_coef_without_reference_refused():
    logp = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="ref_logprobs"):
        get_loss("ppo_clip")(logp, logp, torch.zeros(1), torch.ones(1, 2), kl_coef=0.1)


def test_entropy_metric_from_logits():
    # uniform over 4 tokens: entropy ln 4 = 1.386294
    logp = torch.zeros(1, 2)
    _, m = get_loss("ppo_clip")(logp, logp, torch.ones(1), torch.ones(1, 2), logits=torch.zeros(1, 2, 4))
    assert m["entropy"] == pytest.approx(math.log(4), rel=1e-6)


def test_all_padding_gives_zero_not_nan():
    loss, _, _ = run(mask=torch.zeros(2, 4, dtype=torch.bool))
    assert loss.item() == 0.0


def test_shape_mismatch_refused():
    with pytest.raises(ValueError, match="advantages"):
        run(adv=torch.ones(3))


def test_unknown_loss_lists_available():
    with pytest.raises(ValueError, match=r"unknown policy loss 'nope'; available: ppo_clip"):
        get_loss("nope")


def test_value_loss_by_hand():
    # scale 100: differences 0.5 (quadratic: 0.5·0.5² = 0.125) and 2.0 (linear: 2 − 0.5 = 1.5)
    # mean (0.125 + 1.5)/2 = 0.8125
    v = torch.tensor([100.0, 300.0])
    assert value_loss(v, torch.tensor([150.0, 100.0]), scale=100.0).item() == pytest.approx(0.8125)
