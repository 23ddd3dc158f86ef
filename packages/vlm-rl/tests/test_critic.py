"""CNN critic: shapes, parameter count, value scale, and that it learns."""

import numpy as np
import pytest
import torch

from vlm_rl.algos import value_loss
from vlm_rl.models.critic import CNNCritic
from vlm_rl.update import CriticUpdate, explained_variance


@pytest.fixture(scope="module")
def critic():
    torch.manual_seed(0)
    return CNNCritic()


def test_param_count_for_game_boy_frame(critic):
    # conv1 3·32·8·8 + 32 = 6,176 → 35×39; conv2 32·64·4·4 + 64 = 32,832 → 16×18;
    # conv3 64·64·3·3 + 64 = 36,928 → 14×16; flatten 64·14·16 = 14,336;
    # fc 14,336·512 + 512 = 7,340,544; head 512 + 1 = 513  → 7,416,993 (≈7.4M)
    assert sum(p.numel() for p in critic.parameters()) == 7_416_993


def test_shapes_and_layouts_agree(critic):
    x = torch.randint(0, 256, (2, 144, 160, 3), dtype=torch.uint8)
    v = critic(x)
    assert v.shape == (2,) and v.dtype == torch.float32
    assert torch.allclose(critic(x.permute(0, 3, 1, 2)), v)  # channel-first
    rgba = torch.cat([x, torch.full((2, 144, 160, 1), 255, dtype=torch.uint8)], -1)
    assert torch.allclose(critic(rgba), v)  # alpha dropped
    assert torch.allclose(critic(x.numpy()), v)  # numpy in
    assert torch.allclose(critic.predict(x, batch_size=1), v)


def test_wrong_frame_size_refused(critic):
    with pytest.raises(ValueError, match="144, 160"):
        critic(torch.zeros(1, 84, 84, 3, dtype=torch.uint8))


def test_value_scale(critic):
    x = torch.randint(0, 256, (3, 144, 160, 3), dtype=torch.uint8)
    assert torch.allclose(critic(x), 100.0 * critic.forward_normalized(x))
    unit = CNNCritic(value_scale=1.0)
    unit.load_state_dict(critic.state_dict())
    assert torch.allclose(critic(x), 100.0 * unit(x))


def test_orthogonal_init(critic):
    w = critic.head.weight  # [1, 512], gain 1: a unit-norm row
    assert w.norm().item() == pytest.approx(1.0, rel=1e-5)
    assert critic.head.bias.item() == 0.0


def test_explained_variance():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(y, y) == 1.0
    assert explained_variance(torch.full((4,), 2.5), y) == 0.0


def _brightness_data(hw, n, seed):
    # frame = brightness b ∈ [30, 225] plus ±30 pixel noise; return = 300·b/255 (0..265 reward units)
    g = torch.Generator().manual_seed(seed)
    b = torch.randint(30, 226, (n,), generator=g)
    noise = torch.randint(-30, 31, (n, *hw, 3), generator=g)
    x = (b[:, None, None, None] + noise).clamp(0, 255).to(torch.uint8)
    return x, 300.0 * b.float() / 255, g


def test_learns_brightness_to_return_small_frames():
    # 300 SmoothL1 steps (150 passes × 2 minibatches of 32) on 64 frames of 36×40.
    # Measured: loss 0.98 → 2e-5 (seeds 0-3: ×2e4 … ×2e7); asserted: ×1000 and EV > 0.999.
    torch.manual_seed(0)
    x, y, g = _brightness_data((36, 40), 64, 0)
    critic = CNNCritic(frame_hw=(36, 40))
    trainer = CriticUpdate(critic, minibatch_size=32)
    with torch.no_grad():
        before = value_loss(critic(x), y, scale=100.0).item()
    for _ in range(150):
        m = trainer.update(x, y, generator=g)
    with torch.no_grad():
        after = value_loss(critic(x), y, scale=100.0).item()
    assert before > 0.5
    assert after < before / 1000
    assert m["explained_variance"] > 0.999
    assert set(m) == {"value_loss", "explained_variance", "grad_norm"}


def test_learns_brightness_to_return_game_boy_frames():
    # full 144×160 net, 20 steps on 16 frames (CPU time). Measured: 1.69 → 0.005 (×340); asserted ×5.
    torch.manual_seed(0)
    x, y, g = _brightness_data((144, 160), 16, 0)
    critic = CNNCritic()
    trainer = CriticUpdate(critic, minibatch_size=16)
    with torch.no_grad():
        before = value_loss(critic(x), y, scale=100.0).item()
    for _ in range(20):
        trainer.update(x, y, generator=g)
    with torch.no_grad():
        after = value_loss(critic(x), y, scale=100.0).item()
    assert after < before / 5


def test_update_in_uneven_minibatches_by_hand():
    # Black frames through a fresh critic: every bias is 0 (orthogonal init), so every activation is 0 and
    # V = head bias · 100 = 0; the only non-zero gradient is the head bias's (ReLU'(0) = 0 blocks the rest).
    # Targets y = [10, 20, 30, 40, 50] → y/100 = [0.1 … 0.5]; SmoothL1 (beta 1) = 0.5·d² here.
    # randperm(5) with seed 0 = [4, 0, 1, 3, 2]: minibatches of 3 → {4, 0, 1} then {3, 2}.
    # step 1: b = 0, targets [0.5, 0.1, 0.2]: loss1 = 0.5·(0.25 + 0.01 + 0.04)/3 = 0.05
    #   grad g1 = mean(b − t) = −0.8/3 = −0.266667; Adam's first step moves b by lr·sign(g1) → b1 = 3e-4
    # step 2: b1 = 3e-4, targets [0.4, 0.3]: loss2 = 0.25·(0.3997² + 0.2997²) = 0.25·0.24958018 = 0.062395045
    #   grad g2 = 3e-4 − 0.35 = −0.3497
    # value_loss = (0.05 + 0.062395045)/2 = 0.056197523   (mean of minibatch means, not over frames)
    # grad_norm = (0.266667 + 0.3497)/2 = 0.308183
    # explained variance: preds (reward units) 0 for frames 4, 0, 1 and 0.03 for 3, 2 (each minibatch's own
    #   prediction before its step); residuals [10, 20, 29.97, 39.97, 50], mean 29.988, biased var
    #   (19.988² + 9.988² + 0.018² + 9.982² + 20.012²)/5 = 999.40108/5 = 199.880216; var(y) = 1000/5 = 200
    #   → EV = 1 − 199.880216/200 = 0.00059892
    # Adam step 2: m = 0.09·g1 + 0.1·g2 = −0.05897, v = 0.000999·g1² + 0.001·g2² = 0.00019333,
    #   m̂ = m/0.19 = −0.310368, v̂ = v/0.001999 = 0.0967134, b2 = b1 + 3e-4·0.310368/sqrt(0.0967134) = 5.99402e-4
    critic = CNNCritic(frame_hw=(36, 40))
    before = {k: v.clone() for k, v in critic.state_dict().items()}
    trainer = CriticUpdate(critic, minibatch_size=3)
    x = np.zeros((5, 36, 40, 3), dtype=np.uint8)  # numpy frames are accepted
    y = torch.tensor([10.0, 20.0, 30.0, 40.0, 50.0])
    m = trainer.update(x, y, generator=torch.Generator().manual_seed(0))
    assert m["value_loss"] == pytest.approx(0.056197523, rel=1e-5)
    assert m["grad_norm"] == pytest.approx(0.308183, rel=1e-5)
    assert m["explained_variance"] == pytest.approx(0.00059892, abs=2e-7)
    assert critic.head.bias.item() == pytest.approx(5.99402e-4, rel=1e-5)
    assert int(trainer.optimizer.state[critic.head.bias]["step"]) == 2  # ceil(5/3) optimiser steps
    after = critic.state_dict()
    assert [k for k in before if not torch.equal(before[k], after[k])] == ["head.bias"]
    with torch.no_grad():
        assert critic(x).tolist() == pytest.approx([0.0599402] * 5, rel=1e-5)  # V = b2·100


def test_update_pads_to_min_steps_and_checks_lengths():
    # 5 frames in minibatches of 3 take 2 steps; min_steps=4 adds 2 empty ones (for processes with fewer turns)
    critic = CNNCritic(frame_hw=(36, 40))
    trainer = CriticUpdate(critic, minibatch_size=3)
    x = np.zeros((5, 36, 40, 3), dtype=np.uint8)
    m = trainer.update(x, torch.arange(5.0), min_steps=4)
    assert int(trainer.optimizer.state[critic.head.bias]["step"]) == 4
    assert np.isfinite(m["value_loss"])
    with pytest.raises(ValueError, match="same length"):
        trainer.update(x, torch.arange(4.0))
    with pytest.raises(ValueError, match="minibatch_size must be >= 1"):
        CriticUpdate(critic, minibatch_size=0)
