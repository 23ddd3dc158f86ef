import os

# Before transformers / huggingface_hub are imported: tests never touch the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)  # tiny models on few cores: one thread is several times faster


@pytest.fixture(scope="session", autouse=True)
def tiny_model_cache(tmp_path_factory):
    """Tiny models are built into a fresh cache per session (about a second each)."""
    cache = tmp_path_factory.mktemp("vlm-rl-cache")
    old = os.environ.get("VLM_RL_CACHE")
    os.environ["VLM_RL_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("VLM_RL_CACHE", None)
    else:
        os.environ["VLM_RL_CACHE"] = old
