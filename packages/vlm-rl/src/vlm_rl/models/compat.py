"""Loading a Qwen3-VL processor when torchvision is not installed.

Images go through the PIL image processor and never need torchvision, but transformers 5.x
(a) type-checks a Qwen-VL processor's `video_processor` against `transformers.VideoProcessorMixin`,
which is not exported without torchvision, and (b) loads it through `AutoVideoProcessor`, which maps
to torchvision-only dummies. `Qwen3VLVideoProcessor` itself instantiates fine, so we build the
processor from its parts. Qwen2-VL / Qwen2.5-VL cannot do this: their video processor module
imports torchvision at import time.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from transformers.utils import is_torchvision_available


@contextlib.contextmanager
def _video_base_class_exported():
    # ProcessorMixin looks the base class up by name on its own handle of the transformers module.
    from transformers import processing_utils
    from transformers.video_processing_utils import VideoProcessorMixin

    module = processing_utils.transformers_module
    if is_torchvision_available() or "VideoProcessorMixin" in vars(module):
        yield
        return
    module.VideoProcessorMixin = VideoProcessorMixin
    try:
        yield
    finally:
        delattr(module, "VideoProcessorMixin")


def build_qwen3_vl_processor(image_processor, tokenizer, chat_template: str | None, video_config: dict | None = None):
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    video_config = {k: v for k, v in (video_config or {}).items() if k != "video_processor_type"}
    with _video_base_class_exported():
        return Qwen3VLProcessor(
            image_processor=image_processor, tokenizer=tokenizer,
            video_processor=Qwen3VLVideoProcessor(**video_config), chat_template=chat_template,
        )


def load_qwen3_vl_processor_without_torchvision(path: str | Path):
    """AutoProcessor.from_pretrained for a local Qwen3-VL directory, minus the torchvision need."""
    from transformers import AutoImageProcessor, AutoTokenizer

    path = Path(path)
    processor_config = json.loads((path / "processor_config.json").read_text()) if (
        path / "processor_config.json").exists() else {}
    video_config = processor_config.get("video_processor")
    if video_config is None and (path / "video_preprocessor_config.json").exists():
        video_config = json.loads((path / "video_preprocessor_config.json").read_text())
    chat_template = None
    if (path / "chat_template.jinja").exists():
        chat_template = (path / "chat_template.jinja").read_text()
    elif (path / "chat_template.json").exists():
        chat_template = json.loads((path / "chat_template.json").read_text())["chat_template"]
    return build_qwen3_vl_processor(
        AutoImageProcessor.from_pretrained(path), AutoTokenizer.from_pretrained(path), chat_template, video_config,
    )
