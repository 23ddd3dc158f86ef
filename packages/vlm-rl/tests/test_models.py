import hashlib

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.utils import is_torchvision_available

from vlm_rl.models import (
    VISION_MODULES,
    ModelNotAvailableError,
    build_tiny_model,
    ensure_tiny_model,
    load_policy,
    load_processor,
    trainable_parameter_count,
)
from vlm_rl.models.tiny import TAGS
from vlm_rl.parsing import parse_response
from vlm_rl.perception import facts_from_text
from vlm_rl.prompts import build_messages
from vlm_rl.stages.teachers import Annotation

FAMILIES = {"idefics3": "Idefics3ForConditionalGeneration", "qwen3_vl": "Qwen3VLForConditionalGeneration"}
IMAGE_TOKEN = {"idefics3": "<image>", "qwen3_vl": "<|image_pad|>"}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _inputs(processor, n=2):
    text = processor.apply_chat_template(build_messages("hopland"), add_generation_prompt=True, tokenize=False)
    frame = Image.fromarray(np.zeros((144, 160, 3), np.uint8))
    return processor(text=[text] * n, images=[[frame]] * n, return_tensors="pt", padding=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_saves_and_loads_through_the_auto_classes(family):
    path = ensure_tiny_model(family)
    model = AutoModelForImageTextToText.from_pretrained(path)
    assert type(model).__name__ == FAMILIES[family]
    assert 5e5 < sum(p.numel() for p in model.parameters()) < 5e6
    if family == "idefics3" or is_torchvision_available():
        processor = AutoProcessor.from_pretrained(path)
    else:  # transformers loads every Qwen-VL processor's video part through torchvision-only classes
        with pytest.raises(ImportError, match="(?i)torchvision"):
            AutoProcessor.from_pretrained(path)
        processor = load_processor(str(path))
    tok = processor.tokenizer
    for token in (*TAGS, IMAGE_TOKEN[family]):
        assert len(tok(token, add_special_tokens=False)["input_ids"]) == 1, token
    enc = _inputs(processor)
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (*enc["input_ids"].shape, model.config.get_text_config().vocab_size)
    assert torch.isfinite(logits).all()


def test_tiny_tokenizer_makes_each_teacher_phrase_one_token():
    tok = load_processor(str(ensure_tiny_model("idefics3"))).tokenizer
    text = Annotation("in air. wide pit near. enemy ahead.", "in air: hold right", ("right",)).text
    ids = tok(text, add_special_tokens=False)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    # " wide pit near." is one token, not " wide" + " pit near." (the added tokens match longest-first)
    assert pieces[:5] == ["<perception>", "in air.", " wide pit near.", " enemy ahead.", "</perception>"]
    assert len(ids) == 12, pieces  # 4 tags + 3 facts, 2 tags + subject + intent, 2 tags + the answer
    decoded = tok.decode(ids, skip_special_tokens=True)
    assert decoded == text
    parsed = parse_response(decoded)
    assert facts_from_text(parsed.perception) == {"stance": "air", "hazard": "wide pit near", "enemy": "enemy ahead"}
    assert parsed.buttons == ("right",) and parsed.strict


def test_tiny_idefics3_image_tokens():
    processor = load_processor(str(ensure_tiny_model("idefics3")))
    enc = _inputs(processor, n=1)
    assert (enc["input_ids"] == processor.image_token_id).sum() == 25  # (160/16)^2 / 2^2
    # Idefics3's processor does not register <global-img>; our tokenizer has it whole.
    assert processor.tokenizer.convert_tokens_to_ids("<global-img>") != processor.tokenizer.unk_token_id


def test_build_is_deterministic_per_seed(tmp_path):
    a = build_tiny_model(tmp_path / "a", "idefics3", seed=3)
    b = build_tiny_model(tmp_path / "b", "idefics3", seed=3)
    c = build_tiny_model(tmp_path / "c", "idefics3", seed=4)
    for name in ("model.safetensors", "tokenizer.json"):
        assert _sha(a / name) == _sha(b / name)
    assert _sha(a / "model.safetensors") != _sha(c / "model.safetensors")


def test_cache_key_follows_the_corpus():
    assert ensure_tiny_model("idefics3") == ensure_tiny_model("idefics3")
    assert ensure_tiny_model("idefics3", corpus=["<answer>['a']</answer>"]) != ensure_tiny_model("idefics3")


@pytest.mark.parametrize("preset", ["tiny", "tiny-qwen3-vl"])
def test_lora_adapts_only_the_language_model(preset):
    model, processor = load_policy(preset, lora=True, lora_r=4)
    adapted = [n for n, m in model.named_modules() if hasattr(m, "lora_A") and len(m.lora_A)]
    assert adapted and all(".text_model.layers." in n or ".language_model.layers." in n for n in adapted)
    prefixes = VISION_MODULES[model.config.model_type]
    vision = [n for n, _ in model.named_modules() if any(f".{p}." in f".{n.split('base_model.model.')[-1]}."
                                                       for p in prefixes)]
    assert vision, "the vision tower should exist"
    assert not [n for n in vision if "lora" in n]
    assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    trainable, total = trainable_parameter_count(model)
    assert 0 < trainable < total
    with torch.no_grad():
        assert torch.isfinite(model(**_inputs(processor)).logits).all()


def test_full_finetune_freezes_the_vision_tower_unless_asked():
    model, _ = load_policy("tiny", lora=False, full_finetune=True)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith(("model.vision_model", "model.connector")) for n in frozen)
    model, _ = load_policy("tiny", lora=False, full_finetune=True, train_vision=True)
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="pick one"):
        load_policy("tiny", lora=True, full_finetune=True)


def test_4bit_skips_vision_and_cpu_gradients_survive_eval_mode():
    bnb = pytest.importorskip("bitsandbytes")
    model, processor = load_policy("tiny", load_in_4bit=True, lora_r=4)
    quantized = [n for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert quantized and all(".text_model.layers." in n for n in quantized)
    for n, p in model.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.02)
    enc = _inputs(processor)

    def first_layer_grad():
        model.zero_grad()
        model(**enc).logits.sum().backward()
        return next(p.grad.clone() for n, p in model.named_parameters() if "layers.0." in n and "lora_A" in n)

    model.train()
    before = first_layer_grad()
    model.eval()  # a rollout: bitsandbytes would repack CPU weights into a kernel without autograd
    with torch.no_grad():
        model(**enc)
    model.train()
    assert torch.allclose(first_layer_grad(), before, atol=1e-6)


def test_unreachable_hub_model_gives_a_clear_error():
    with pytest.raises(ModelNotAvailableError) as err:
        load_policy("no-such-org/no-such-model")
    message = str(err.value)
    assert "'no-such-org/no-such-model'" in message and "could not be fetched from the hub" in message
    assert "pass its path" in message
    with pytest.raises(ModelNotAvailableError, match="not a loadable model directory"):
        load_policy("/nonexistent/model/dir")
