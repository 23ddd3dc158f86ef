import numpy as np
import pytest
import torch
from PIL import Image

from vlm_rl.models import load_policy
from vlm_rl.models.actor import Turn, VLMActor
from vlm_rl.parsing import ParsedResponse
from vlm_rl.prompts import build_messages

PRESETS = ["tiny", "tiny-qwen3-vl"]
ATOL = 1e-4


@pytest.fixture(scope="module", params=PRESETS)
def actor(request):
    model, processor = load_policy(request.param, lora=True, lora_r=4)
    return VLMActor(model, processor, "hopland", max_new_tokens=16)


def _frames(n, seed=0, shape=(144, 160, 3)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def _perturb_lora(model, seed=0):
    """Stand-in for training: LoRA B starts at zero, so the adapter is a no-op until it moves."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def _zero_lora(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.zero_()


def test_batched_act_returns_ids_and_logprobs_per_sample(actor):
    torch.manual_seed(0)
    turns = actor.act(_frames(3))
    assert len(turns) == 3
    suppressed = set(actor.suppress_ids)
    for t in turns:
        assert isinstance(t, Turn) and isinstance(t.parsed, ParsedResponse)
        assert t.prompt_ids.dtype == torch.long and t.prompt_ids.ndim == 1
        assert torch.equal(t.prompt_ids, turns[0].prompt_ids)  # same prompt text and image size
        assert t.response_ids.shape == t.logprobs.shape and 1 <= len(t.response_ids) <= 16
        assert torch.isfinite(t.logprobs).all() and (t.logprobs <= 0).all()
        assert not suppressed & set(t.response_ids.tolist())
        assert t.truncated == (t.response_ids[-1].item() not in actor.stop_ids)
        assert t.text == actor.tokenizer.decode(t.response_ids, skip_special_tokens=True)
        assert t.frames.shape == (1, 144, 160, 3)


def test_recomputed_logprobs_match_generation(actor):
    torch.manual_seed(1)
    _perturb_lora(actor.model)
    try:
        turns = actor.act(_frames(3, seed=1))
        # Cut responses to different lengths: right padding and masks get exercised.
        for t, n in zip(turns, (3, len(turns[1].response_ids), 7), strict=True):
            t.response_ids, t.logprobs = t.response_ids[:n], t.logprobs[:n]
        batch = actor.collate(turns)
        assert batch.response_mask.sum(1).tolist() == [len(t.response_ids) for t in turns]
        with torch.no_grad():
            lp = actor.logprobs(batch)
        assert lp.shape == batch.response_ids.shape
        assert torch.allclose(lp, batch.old_logprobs, atol=ATOL)
        assert (lp[~batch.response_mask] == 0).all()
    finally:
        _zero_lora(actor.model)


def test_logprobs_are_differentiable_and_reach_lora(actor):
    batch = actor.collate(actor.teacher_turns(_frames(2), ["<answer>['a', 'right']</answer>", "hi"]))
    actor.model.train()
    try:
        lp, entropy = actor.logprobs(batch, return_entropy=True)
        (lp.sum() + entropy.sum()).backward()
    finally:
        actor.model.eval()
    # LoRA B starts at zero, so B gets the gradient (A's is B^T times it: zero).
    grads = [p.grad for n, p in actor.model.named_parameters() if "lora_B" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)
    assert (entropy[batch.response_mask] > 0).all()
    actor.model.zero_grad()


def test_hub_sampling_defaults_do_not_leak(actor):
    # Hub models ship sampling defaults (Qwen3-VL: top_k=20, top_p=0.8, temperature=0.7);
    # min_p=1 would make every sample the argmax. act() must sample the full distribution anyway.
    gen_config = actor.model.get_base_model().generation_config
    gen_config.top_k, gen_config.temperature, gen_config.min_p = 1, 0.01, 1.0
    try:
        torch.manual_seed(2)
        turns = actor.act(_frames(4, seed=2))
    finally:
        gen_config.top_k, gen_config.temperature, gen_config.min_p = None, None, None
    batch = actor.collate(turns)
    with torch.no_grad():
        lp = actor.logprobs(batch)
    assert torch.allclose(lp, batch.old_logprobs, atol=ATOL)
    # An untrained model is near uniform over ~1k tokens: with no top-k (neither the hub's 1 nor
    # transformers' default 50) some sampled token ranks beyond 50.
    with torch.no_grad():
        logits = actor.model(**batch.model_inputs()).logits[:, batch.prompt_len - 1 : -1]
    chosen = logits.gather(-1, batch.response_ids.unsqueeze(-1))
    ranks = (logits > chosen).sum(-1)[batch.response_mask]
    assert ranks.max() > 50


def test_greedy_is_deterministic(actor):
    frames = _frames(3, seed=3)
    a, b = actor.act(frames, greedy=True), actor.act(frames, greedy=True)
    assert all(torch.equal(x.response_ids, y.response_ids) for x, y in zip(a, b, strict=True))
    batch = actor.collate(a)
    with torch.no_grad():
        assert torch.allclose(actor.logprobs(batch), batch.old_logprobs, atol=ATOL)


def test_reference_logprobs_are_the_base_model(actor):
    batch = actor.collate(actor.act(_frames(2, seed=4)))
    with torch.no_grad():
        base = actor.logprobs(batch)
    assert torch.equal(actor.reference_logprobs(batch), base)  # adapter is a no-op before training
    _perturb_lora(actor.model)
    try:
        with torch.no_grad():
            moved = actor.logprobs(batch)
        assert not torch.allclose(moved, base, atol=ATOL)
        assert torch.allclose(actor.reference_logprobs(batch), base, atol=1e-6)
    finally:
        _zero_lora(actor.model)


def test_collate_is_batch_invariant_and_checks_prompts(actor):
    texts = ["<perception>x</perception><reasoning>y</reasoning><answer>['a']</answer>", "no", "<answer>[]"]
    turns = actor.teacher_turns(_frames(3, seed=5), texts)
    assert all(t.response_ids[-1].item() == actor.stop_ids[0] for t in turns)
    with torch.no_grad():
        together = actor.logprobs(actor.collate(turns))
        for i, t in enumerate(turns):
            alone = actor.logprobs(actor.collate([t]))[0]
            assert torch.allclose(together[i, : len(t.response_ids)], alone, atol=ATOL)
    turns[0].prompt_ids = turns[0].prompt_ids[1:]
    with pytest.raises(ValueError, match="prompt ids differ"):
        actor.collate(turns)


def test_frames_are_validated(actor):
    with pytest.raises(ValueError, match="Invalid frames"):
        actor.act([np.zeros((144, 160), np.uint8)])
    with pytest.raises(ValueError, match="Invalid frames"):
        actor.act([np.zeros((144, 160, 3), np.float32)])


@pytest.mark.parametrize("preset", PRESETS)
def test_mixed_prompt_lengths_left_padding(preset):
    # Frames of other shapes give other image-token counts: Qwen-VL resizes to multiples of 32;
    # Idefics3 with image splitting (as SmolVLM has) makes another number of tiles.
    model, processor = load_policy(preset, lora_r=4)
    if preset == "tiny":
        processor.image_processor.do_image_splitting = True
        processor.image_processor.size = {"longest_edge": 320}
    actor = VLMActor(model, processor, "hopland", max_new_tokens=8)
    _perturb_lora(model)
    torch.manual_seed(6)
    turns = actor.act(_frames(1, seed=6, shape=(288, 320, 3)) + _frames(1, seed=7, shape=(64, 320, 3)))
    assert len(turns[0].prompt_ids) != len(turns[1].prompt_ids)
    batch = actor.collate(turns)
    with torch.no_grad():
        assert torch.allclose(actor.logprobs(batch), batch.old_logprobs, atol=ATOL)


def test_history_frames_and_upscale():
    model, processor = load_policy("tiny", lora_r=4)
    actor = VLMActor(model, processor, "hopland", n_history=1, upscale=2, max_new_tokens=4)
    enc = actor.prepare([np.stack(_frames(2)), np.stack(_frames(2, seed=1))])
    assert enc["pixel_values"].shape[:2] == (2, 2)  # two envs, two images each
    assert (enc["input_ids"] == processor.image_token_id).sum(1).tolist() == [50, 50]
    turns = actor.act([np.stack(_frames(2))])
    assert turns[0].frames.shape == (2, 144, 160, 3)
    with pytest.raises(ValueError, match=r"\(2, H, W, 3\)"):
        actor.act(_frames(1))


def test_teacher_turns_match_the_chat_template(actor):
    # An SFT sample rendered by the chat template tokenises to prompt ids + response ids (+ a newline).
    text = "<perception>A pit ahead.</perception><reasoning>Jump.</reasoning><answer>['a', 'right']</answer>"
    (turn,) = actor.teacher_turns(_frames(1), [text])
    messages = [*build_messages("hopland"), {"role": "assistant", "content": [{"type": "text", "text": text}]}]
    full = actor.processor.apply_chat_template(messages, tokenize=False)
    image = Image.fromarray(_frames(1)[0])
    ids = actor.processor(text=[full], images=[[image]], return_tensors="pt")["input_ids"][0]
    expected = torch.cat([turn.prompt_ids, turn.response_ids])
    assert torch.equal(ids[: len(expected)], expected)
    assert actor.tokenizer.decode(ids[len(expected):]).strip() == ""
    assert turn.parsed.strict


def test_shared_prompt_prefix_gives_the_same_logprobs_gradients_and_greedy_answers():
    model, processor = load_policy("tiny", lora=True, lora_r=4)
    _perturb_lora(model, seed=3)
    shared = VLMActor(model, processor, "hopland", max_new_tokens=16)
    plain = VLMActor(model, processor, "hopland", max_new_tokens=16, share_prefix=False)
    frames = _frames(4, seed=5)
    assert shared._shared_prefix(shared.prepare(frames)) > 100  # the prompt text is shared
    a, b = shared.act(frames, greedy=True), plain.act(frames, greedy=True)
    assert all(torch.equal(x.response_ids, y.response_ids) for x, y in zip(a, b, strict=True))
    torch.manual_seed(2)
    batch = shared.collate(shared.act(frames))
    grads = []
    for act in (shared, plain):
        model.zero_grad()
        lp = act.logprobs(batch)
        assert torch.allclose(lp, batch.old_logprobs, atol=ATOL)
        lp.sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-3), name


def test_the_games_button_cap_is_what_the_prompt_says_and_the_parser_checks():
    from gb_gym.games.hopland import Hopland

    class ThreeButtons(Hopland):
        name, env_id, max_buttons = "hopland3-actor", "GB/Hopland3Actor-v0", 3

    model, processor = load_policy("tiny")
    text = "<perception>p</perception><reasoning>r</reasoning><answer>['a', 'b', 'right']</answer>"
    three = VLMActor(model, processor, ThreeButtons(), max_new_tokens=4)
    two = VLMActor(model, processor, "hopland", max_new_tokens=4)
    assert "in one turn is 3." in three.prompt and "in one turn is 2." in two.prompt
    assert three.teacher_turns(_frames(1), [text])[0].parsed.buttons == ("a", "b", "right")
    assert two.teacher_turns(_frames(1), [text])[0].parsed.buttons is None
