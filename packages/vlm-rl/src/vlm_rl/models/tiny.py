"""Tiny models of the real VLM architectures, built offline for tests and CPU runs.

A tiny model is a real `Idefics3ForConditionalGeneration` (SmolVLM's class) or
`Qwen3VLForConditionalGeneration` with a few layers, a BPE tokenizer trained here on the
prompts and example annotations, and a real processor with a chat template, saved so that
`AutoModelForImageTextToText.from_pretrained` / `AutoProcessor.from_pretrained` load it back.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from vlm_rl.models.compat import build_qwen3_vl_processor
from vlm_rl.prompts import BUTTONS, PROMPT_STYLES, games, prompt_text
from vlm_rl.teacher_text import teacher_phrases

TAGS = ("<perception>", "</perception>", "<reasoning>", "</reasoning>", "<answer>", "</answer>")

# Architecture and tokenizer settings per family; all of it goes into the cache key.
TINY_CONFIGS: dict[str, dict] = {
    "idefics3": {
        "vocab_size": 1024,
        "specials": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<end_of_utterance>",
                     "<fake_token_around_image>", "<image>", "<global-img>"],
        "bos": "<|im_start|>", "eos": "<end_of_utterance>", "pad": "<|endoftext|>",
        # 160 px / patch 16 = 10x10 patches, pixel shuffle by 2 -> 25 image tokens.
        "vision": {"hidden_size": 96, "intermediate_size": 192, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "image_size": 160, "patch_size": 16},
        "text": {"hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 3,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 4096,
                 "rope_theta": 100000.0},
        "scale_factor": 2,
        "image_seq_len": 25,
        "phrase_tokens": True,  # the RAM teacher's phrases are whole tokens (see _train_tokenizer)
        "image_size": 160,
    },
    "qwen3_vl": {
        "vocab_size": 1024,
        "specials": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                     "<|image_pad|>", "<|video_pad|>"],
        "bos": None, "eos": "<|im_end|>", "pad": "<|endoftext|>",
        "vision": {"depth": 2, "hidden_size": 96, "intermediate_size": 192, "num_heads": 4, "patch_size": 16,
                   "spatial_merge_size": 2, "temporal_patch_size": 2, "num_position_embeddings": 256,
                   "deepstack_visual_indexes": [1]},
        # head_dim 48 -> M-RoPE sections (t, h, w) must sum to 24.
        "text": {"hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 3, "num_attention_heads": 4,
                 "num_key_value_heads": 2, "head_dim": 48, "max_position_embeddings": 4096,
                 "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0,
                                     "mrope_section": [8, 8, 8], "mrope_interleaved": True}},
        "phrase_tokens": True,
        # Pixels are resized to multiples of 32; cap at 256 merged tokens so upscaled frames stay cheap.
        "min_pixels": 4 * 32 * 32,
        "max_pixels": 256 * 32 * 32,
    },
}

# Opt-in: the tiny Idefics3 without pixel shuffle, 10x10 = 100 image tokens per frame (25 by default),
# to measure whether the default's 25 tokens are what keeps it from reading pits and enemies off the frame.
TINY_CONFIGS["idefics3-100tok"] = copy.deepcopy(TINY_CONFIGS["idefics3"]) | {
    "builder": "idefics3",
    "scale_factor": 1,
    "image_seq_len": 100,
}

# SmolVLM-256M's published shape (SigLIP-B/16 at 512 px + SmolLM2-135M, pixel shuffle 4 -> 64 image tokens per
# image), with random weights: for benchmarks that need real sizes, never for training.
TINY_CONFIGS["smolvlm-256m-shape"] = copy.deepcopy(TINY_CONFIGS["idefics3"]) | {
    "builder": "idefics3",
    "vision": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
               "image_size": 512, "patch_size": 16},
    "text": {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
             "num_key_value_heads": 3, "max_position_embeddings": 8192, "rope_theta": 100000.0},
    "scale_factor": 4,
    "image_seq_len": 64,
    "image_size": 512,
    "pad_vocab_to": 49280,
}

# Qwen3-VL-2B-Instruct's published shape (ViT depth 24 + a 28-layer 2048-wide LM with tied embeddings), with random
# weights, saved in bf16: for the GPU acceptance check, never for training. Frames up to the paper's x8 upscale.
TINY_CONFIGS["qwen3-vl-2b-shape"] = copy.deepcopy(TINY_CONFIGS["qwen3_vl"]) | {
    "builder": "qwen3_vl",
    "vision": {"depth": 24, "hidden_size": 1024, "intermediate_size": 4096, "num_heads": 16, "patch_size": 16,
               "spatial_merge_size": 2, "temporal_patch_size": 2, "num_position_embeddings": 2304,
               "deepstack_visual_indexes": [5, 11, 17]},
    "text": {"hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 28, "num_attention_heads": 16,
             "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 32768,
             "rope_parameters": {"rope_type": "default", "rope_theta": 5000000.0,
                                 "mrope_section": [24, 20, 20], "mrope_interleaved": True}},
    "max_pixels": 1600 * 32 * 32,
    "pad_vocab_to": 151936,
    "tie_word_embeddings": True,
    "save_dtype": "bfloat16",
}

# SmolVLM-Instruct's template, plus string content (convenient for SFT targets).
IDEFICS3_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}{{ ': ' + message['content'] }}{% else %}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}{% endif %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

# Qwen3-VL-Instruct's layout for plain user/assistant turns (no tools, no video, no thinking).
QWEN3_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def default_corpus() -> list[str]:
    """Prompt texts of every registered game, chat-template words and example annotations."""
    texts = [prompt_text(g, n, style) for g in games() for n in (0, 1) for style in PROMPT_STYLES]
    texts.append("User: Assistant: user assistant system")
    things = ["enemy", "pit", "wall", "step", "flag", "coin", "pipe", "block", "platform", "gap"]
    for i, thing in enumerate(things):
        d = i % 9 + 1
        texts.append(
            f"<perception>The hero stands on the ground. A {thing} is {d} tiles ahead. "
            f"Nothing is behind. The hero is in the air: no.</perception>"
            f"<reasoning>The {thing} is close, so I jump while moving right to get past it. "
            f"If it is far, I keep running right.</reasoning><answer>['a', 'right']</answer>"
        )
    pairs = [(b,) for b in BUTTONS] + [("a", "right"), ("b", "right"), ("a", "left"), ("b", "left")]
    texts += [f"<answer>[{', '.join(repr(b) for b in p)}]</answer>" for p in pairs]
    texts += [  # terse RAM-teacher style facts
        "on ground. pit 3 ahead 2 wide. enemy 5 ahead.",
        "in air. wall 2 ahead 1 high. no enemy.",
        "on ground. no hazard. no enemy.",
        "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 left right above below near far none yes no",
    ]
    return texts


def _train_tokenizer(spec: dict, corpus: list[str]):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # Byte-level BPE (as SmolVLM and Qwen use): any text encodes, nothing maps to <unk>.
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec["vocab_size"], special_tokens=spec["specials"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer)
    # Tags are whole tokens but not "special": decoding with skip_special_tokens keeps them.
    tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in TAGS])
    if spec.get("phrase_tokens"):
        # One token per fact, reasoning subject and answer: each fact is one prediction (a clean learning
        # signal) and a turn is ~12 tokens instead of ~30 (faster rollouts). Matching is leftmost-longest,
        # so " wide pit near." wins over " pit near.".
        tok.add_tokens([AddedToken(t, normalized=False, special=False) for t in teacher_phrases()])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=spec["bos"], eos_token=spec["eos"], pad_token=spec["pad"],
        model_max_length=spec["text"]["max_position_embeddings"],
    )


def _build_idefics3(spec: dict, tokenizer):
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    size = {"longest_edge": spec["image_size"]}
    image_processor = Idefics3ImageProcessorPil(do_image_splitting=False, size=size, max_image_size=size)
    processor = Idefics3Processor(
        image_processor=image_processor, tokenizer=tokenizer,
        image_seq_len=spec["image_seq_len"], chat_template=IDEFICS3_CHAT_TEMPLATE,
    )
    ids = {k: tokenizer.convert_tokens_to_ids(spec[k]) for k in ("bos", "eos", "pad")}
    text = dict(spec["text"], model_type="llama", vocab_size=len(tokenizer), tie_word_embeddings=False,
                bos_token_id=ids["bos"], eos_token_id=ids["eos"], pad_token_id=ids["pad"])
    config = Idefics3Config(
        vision_config=spec["vision"], text_config=text, scale_factor=spec["scale_factor"],
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), pad_token_id=ids["pad"],
        tie_word_embeddings=False,
    )
    return Idefics3ForConditionalGeneration(config), processor, ids


def _build_qwen3_vl(spec: dict, tokenizer):
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    image_processor = Qwen2VLImageProcessorPil(
        patch_size=spec["vision"]["patch_size"], temporal_patch_size=spec["vision"]["temporal_patch_size"],
        merge_size=spec["vision"]["spatial_merge_size"], image_mean=[0.5] * 3, image_std=[0.5] * 3,
        size={"shortest_edge": spec["min_pixels"], "longest_edge": spec["max_pixels"]},
    )
    processor = build_qwen3_vl_processor(image_processor, tokenizer, QWEN3_VL_CHAT_TEMPLATE)
    ids = {k: tokenizer.convert_tokens_to_ids(spec[k]) if spec[k] else None for k in ("bos", "eos", "pad")}
    vision = dict(spec["vision"], out_hidden_size=spec["text"]["hidden_size"])
    text = dict(spec["text"], vocab_size=len(tokenizer), bos_token_id=ids["bos"], eos_token_id=ids["eos"],
                pad_token_id=ids["pad"])
    token = tokenizer.convert_tokens_to_ids
    config = Qwen3VLConfig(
        vision_config=vision, text_config=text, tie_word_embeddings=spec.get("tie_word_embeddings", False),
        image_token_id=token("<|image_pad|>"), video_token_id=token("<|video_pad|>"),
        vision_start_token_id=token("<|vision_start|>"), vision_end_token_id=token("<|vision_end|>"),
    )
    return Qwen3VLForConditionalGeneration(config), processor, ids


_BUILDERS = {"idefics3": _build_idefics3, "qwen3_vl": _build_qwen3_vl}


def build_tiny_model(out_dir: str | os.PathLike, family: str = "idefics3", seed: int = 0,
                     corpus: list[str] | None = None) -> Path:
    """Build, initialise (seeded) and save a tiny model + processor into `out_dir`; returns the path."""
    if family not in TINY_CONFIGS:
        raise ValueError(f"Unknown tiny model family {family!r}. Expecting one of {sorted(TINY_CONFIGS)}.")
    spec = copy.deepcopy(TINY_CONFIGS[family])
    corpus = default_corpus() if corpus is None else list(corpus)
    tokenizer = _train_tokenizer(spec, corpus)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, processor, ids = _BUILDERS[spec.get("builder", family)](spec, tokenizer)
        if spec.get("pad_vocab_to"):
            model.resize_token_embeddings(spec["pad_vocab_to"], mean_resizing=False)
    model.generation_config.bos_token_id = ids["bos"]
    model.generation_config.eos_token_id = ids["eos"]
    model.generation_config.pad_token_id = ids["pad"]
    if spec.get("save_dtype"):
        model.to(getattr(torch, spec["save_dtype"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def tiny_model_key(family: str, seed: int = 0, corpus: list[str] | None = None) -> str:
    corpus = default_corpus() if corpus is None else list(corpus)
    blob = json.dumps([family, seed, TINY_CONFIGS.get(family), corpus, TAGS, teacher_phrases()], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("VLM_RL_CACHE", Path.home() / ".cache" / "vlm-rl"))


def ensure_tiny_model(family: str = "idefics3", seed: int = 0, corpus: list[str] | None = None) -> Path:
    """The cached tiny model directory for (family, seed, corpus, config), built on first use."""
    target = cache_dir() / f"tiny-{family}-{tiny_model_key(family, seed, corpus)}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: concurrent builders never see half a model.
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        build_tiny_model(tmp, family=family, seed=seed, corpus=corpus)
        try:
            tmp.rename(target)
        except OSError:  # another process won the race
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
