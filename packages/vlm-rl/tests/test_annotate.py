"""The annotate stage with the OpenAI-compatible teacher (a local fake server) and from gameplay videos."""


import numpy as np
import pytest
from PIL import Image

from vlm_rl.cli import compose
from vlm_rl.config import ConfigError
from vlm_rl.dataset import load_split
from vlm_rl.stages.annotate import annotate, video_frames

from .test_teacher import _FakeChat, server  # noqa: F401  (fixture)


def test_openai_teacher_annotates_random_play_and_never_saves_the_key(server, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TEACHER_KEY", "sk-do-not-store")
    cfg = compose(["+exp=hopland", f"out_dir={tmp_path}", "annotate.teacher=openai", "annotate.policy=random",
                   "annotate.frames=12", "annotate.max_turns=6", "annotate.heldout=0.25",
                   f"annotate.openai.base_url={server}", "annotate.openai.model=fake-vlm",
                   "annotate.openai.api_key_env=TEACHER_KEY"])
    out = annotate(cfg)
    rows = load_split(out, "train") + load_split(out, "test")
    assert len(rows) == 12
    assert all(r.meta["buttons"] == ["a", "right"] and r.meta["source"] == "random" for r in rows)
    assert all(set(r.meta["facts"]) == {"stance", "hazard", "enemy"} for r in rows)  # RAM facts kept for fidelity
    assert rows[0].text.startswith("<perception>a pit</perception>")
    stored = "".join(p.read_text() for p in out.rglob("*.json*"))
    assert "sk-do-not-store" not in stored and "TEACHER_KEY" not in stored
    assert all(h.get("Authorization") == "Bearer sk-do-not-store" for _, h, _ in _FakeChat.seen[-12:])


def test_video_frames_are_spread_evenly_and_resized(tmp_path):
    frames = [Image.fromarray(np.full((288, 320, 3), i * 10, np.uint8)) for i in range(20)]
    frames[0].save(tmp_path / "play.gif", save_all=True, append_images=frames[1:], duration=50)
    got = list(video_frames([str(tmp_path / "play.gif")], per_video=5))
    assert [m["turn"] for _, _, _, m in got] == [0, 5, 10, 14, 19]
    assert all(f.shape == (144, 160, 3) for f, _, _, _ in got)
    assert [int(f[0, 0, 0]) for f, _, _, _ in got] == [0, 50, 100, 140, 190]


def test_ram_teacher_refuses_videos(tmp_path):
    with pytest.raises(ConfigError, match="annotate.videos have no RAM.*teacher=openai or model"):
        compose(["+exp=hopland", f"out_dir={tmp_path}", "annotate.videos=[x.mp4]"])  # before any work
