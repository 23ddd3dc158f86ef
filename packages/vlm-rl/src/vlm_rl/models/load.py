"""Model presets and `load_policy`: the real `from_pretrained` path, plus LoRA / 4-bit / checkpointing."""

from __future__ import annotations

from pathlib import Path

import torch

from vlm_rl.models.tiny import ensure_tiny_model

MODEL_PRESETS: dict[str, str] = {
    "smolvlm-256m": "HuggingFaceTB/SmolVLM-256M-Instruct",
    "smolvlm-500m": "HuggingFaceTB/SmolVLM-500M-Instruct",
    "qwen3-vl-2b": "Qwen/Qwen3-VL-2B-Instruct",
    "qwen3-vl-8b": "Qwen/Qwen3-VL-8B-Instruct",
    # Built offline on first use (see models.tiny); value is the tiny family.
    "tiny": "tiny:idefics3",
    "tiny-qwen3-vl": "tiny:qwen3_vl",
}

# Language-model attention and MLP projections only. Vision towers reuse the same proj names
# (Qwen's blocks, Idefics3's encoder), so "all-linear" would adapt them too.
LANGUAGE_LORA_TARGET = (
    r".*\.(?:text_model|language_model)\.layers\.\d+\."
    r"(?:self_attn\.(?:q_proj|k_proj|v_proj|o_proj)|mlp\.(?:gate_proj|up_proj|down_proj))"
)

# Full module prefixes of the vision tower and connector per model_type: kept out of 4-bit
# quantisation (small input sizes crash bitsandbytes) and frozen in full fine-tuning by default.
VISION_MODULES: dict[str, tuple[str, ...]] = {
    "idefics3": ("model.vision_model", "model.connector"),
    "smolvlm": ("model.vision_model", "model.connector"),
    "qwen2_vl": ("model.visual",),
    "qwen2_5_vl": ("model.visual",),
    "qwen3_vl": ("model.visual",),
    "qwen3_vl_moe": ("model.visual",),
}

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


class ModelNotAvailableError(OSError):
    pass


def resolve_model(name_or_path: str) -> str:
    """A preset name -> hub id or built tiny directory; anything else is returned unchanged."""
    target = MODEL_PRESETS.get(name_or_path, name_or_path)
    if target.startswith("tiny:"):
        return str(ensure_tiny_model(target.removeprefix("tiny:")))
    return target


def _not_available(name: str, target: str, err: Exception) -> ModelNotAvailableError:
    from huggingface_hub import constants

    if Path(target).expanduser().exists() or target.startswith((".", "/", "~")):
        return ModelNotAvailableError(f"Model {name!r}: {target} is not a loadable model directory ({err}).")
    offline = " (HF_HUB_OFFLINE is set)" if constants.HF_HUB_OFFLINE else ""
    return ModelNotAvailableError(
        f"Model {name!r} is the hub id {target!r}, which is not in the local Hugging Face cache "
        f"({constants.HF_HUB_CACHE}) and could not be fetched from the hub{offline}. Where the hub is "
        f"reachable run `hf download {target} --local-dir DIR`, bring DIR here and pass its path "
        f"(model.path=DIR, or load_policy('DIR')). For offline tests and CPU runs use the preset 'tiny'."
    )


def _local_dir(target: str) -> Path:
    if Path(target).is_dir():
        return Path(target)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(target, local_files_only=True))


def load_processor(name_or_path: str):
    """AutoProcessor with left padding (batched generation); a Qwen3-VL falls back when torchvision is missing."""
    from transformers import AutoConfig, AutoProcessor
    from transformers.utils import is_torchvision_available

    target = resolve_model(name_or_path)
    try:
        processor = AutoProcessor.from_pretrained(target)
    except ImportError as err:
        model_type = AutoConfig.from_pretrained(target).model_type
        if is_torchvision_available() or model_type != "qwen3_vl":
            raise ImportError(
                f"The processor of {name_or_path!r} ({model_type}) needs torchvision: pip install torchvision"
            ) from err
        from vlm_rl.models.compat import load_qwen3_vl_processor_without_torchvision

        processor = load_qwen3_vl_processor_without_torchvision(_local_dir(target))
    except OSError as err:
        raise _not_available(name_or_path, target, err) from err
    processor.tokenizer.padding_side = "left"
    return processor


def _torch_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype == "auto":  # bf16 on a GPU that has it; fp32 on CPU (bf16 is slow there, and log-probs drift)
        cuda_bf16 = device.startswith("cuda") and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"Invalid dtype: {dtype!r}. Expecting: auto, {', '.join(_DTYPES)}.")
    return _DTYPES[dtype]


def _keep_cpu_4bit_trainable(model) -> None:
    # bitsandbytes (0.50) repacks a CPU 4-bit weight for an inference kernel the first time its layer
    # runs in eval mode; that kernel has no autograd, so gradients through the layer are silently
    # wrong from then on (e.g. after a rollout in eval mode). Keep the trainable layout.
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


def load_policy(
    name_or_path: str,
    *,
    lora: bool = True,
    lora_r: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.0,
    lora_target: str = LANGUAGE_LORA_TARGET,
    full_finetune: bool = False,
    train_vision: bool = False,
    load_in_4bit: bool = False,
    dtype: str = "auto",
    gradient_checkpointing: bool = False,
    device: str = "cpu",
):
    """Load a VLM policy and its processor.

    Returns `(model, processor)`. With `lora` the model is a peft `PeftModel` whose only trainable
    parameters are LoRA adapters on `lora_target` (default: language-model proj layers), and
    `model.disable_adapter()` gives the reference policy. With `full_finetune` every language-model
    and connector parameter trains (the vision tower too if `train_vision`). With neither, nothing
    trains. `lora_dropout` defaults to 0 so that train-mode and eval-mode log-probs agree.
    """
    from transformers import AutoConfig, AutoModelForImageTextToText

    if lora and full_finetune:
        raise ValueError("lora=True and full_finetune=True: pick one (pass lora=False for full fine-tuning).")
    if load_in_4bit and full_finetune:
        raise ValueError("full_finetune=True with load_in_4bit=True: 4-bit weights cannot be trained; use LoRA.")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA device is available. Expecting: cpu.")
    target = resolve_model(name_or_path)
    try:
        config = AutoConfig.from_pretrained(target)
    except OSError as err:
        raise _not_available(name_or_path, target, err) from err
    vision_modules = VISION_MODULES.get(config.model_type, ())
    torch_dtype = _torch_dtype(dtype, device)

    kwargs: dict = {"dtype": torch_dtype}
    if load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype, llm_int8_skip_modules=[*vision_modules, "lm_head"],
        )
        kwargs["device_map"] = {"": device}
    model = AutoModelForImageTextToText.from_pretrained(target, **kwargs)
    if not load_in_4bit:
        model.to(device)
    elif device == "cpu":
        _keep_cpu_4bit_trainable(model)

    model.requires_grad_(full_finetune)
    if full_finetune and not train_vision:
        for prefix in vision_modules:
            model.get_submodule(prefix).requires_grad_(False)
    gc_kwargs = {"use_reentrant": False}
    if load_in_4bit and lora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=gradient_checkpointing, gradient_checkpointing_kwargs=gc_kwargs
        )
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=gc_kwargs)
    if lora:
        from peft import LoraConfig, get_peft_model

        lora_config = LoraConfig(
            r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=lora_target, bias="none"
        )
        model = get_peft_model(model, lora_config)
    processor = load_processor(target)
    return model, processor


def trainable_parameter_count(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total



def check_model_available(name_or_path: str) -> None:
    """Raise `ModelNotAvailableError` (saying how to get the weights) unless the model's files are here."""
    from transformers import AutoConfig

    target = resolve_model(name_or_path)
    try:
        AutoConfig.from_pretrained(target)
    except OSError as err:
        raise _not_available(name_or_path, target, err) from err
