"""VLM policies: presets, `load_policy`, and tiny offline models of the real architectures."""

from vlm_rl.models.load import (
    LANGUAGE_LORA_TARGET,
    MODEL_PRESETS,
    VISION_MODULES,
    ModelNotAvailableError,
    check_model_available,
    load_policy,
    load_processor,
    resolve_model,
    trainable_parameter_count,
)
from vlm_rl.models.tiny import TINY_CONFIGS, build_tiny_model, default_corpus, ensure_tiny_model

__all__ = [
    "LANGUAGE_LORA_TARGET",
    "MODEL_PRESETS",
    "TINY_CONFIGS",
    "VISION_MODULES",
    "ModelNotAvailableError",
    "check_model_available",
    "build_tiny_model",
    "default_corpus",
    "ensure_tiny_model",
    "load_policy",
    "load_processor",
    "resolve_model",
    "trainable_parameter_count",
]
