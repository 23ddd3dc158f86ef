"""The RAM teacher's facts and texts, perception fidelity, and the OpenAI-compatible teacher on a local fake server."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from gb_gym.spec import Enemy, Scene
from vlm_rl.parsing import parse_response
from vlm_rl.perception import facts_from_text, perception_fidelity, perception_text, scene_facts
from vlm_rl.stages.teachers import OpenAITeacher, RamTeacher


def scene(terrain, enemies=(), on_ground=True):
    return Scene(game="hopland", level="1", lives=3, x_progress=100, player_y=104, on_ground=on_ground,
                 enemies=tuple(Enemy(dx, 0) for dx in enemies), terrain=tuple(terrain))


@pytest.mark.parametrize(
    "terrain, enemies, on_ground, want",
    [
        ([2] * 16, (), True, {"stance": "ground", "hazard": "no hazard", "enemy": "no enemy"}),
        ([2, 2, 2, 0, 0, 2] + [2] * 10, (), True, {"stance": "ground", "hazard": "pit near", "enemy": "no enemy"}),
        ([2] * 6 + [0] * 5 + [2] * 5, (), False, {"stance": "air", "hazard": "wide pit ahead", "enemy": "no enemy"}),
        ([2, 2, 3] + [3] * 13, (20,), True, {"stance": "ground", "hazard": "wall near", "enemy": "enemy near"}),
        ([1] * 8 + [5] * 8, (60, -8), True, {"stance": "ground", "hazard": "high wall ahead", "enemy": "enemy ahead"}),
        # a step down then up again: a wall measured from the ground just before it
        ([3, 2, 2, 3] + [3] * 12, (), True, {"stance": "ground", "hazard": "wall near", "enemy": "no enemy"}),
    ],
)
def test_scene_facts(terrain, enemies, on_ground, want):
    assert scene_facts(scene(terrain, enemies, on_ground)) == want


def test_perception_text_reads_back_to_the_same_facts():
    for terrain in ([2] * 16, [2, 2, 0, 0, 0, 0, 2] + [2] * 9, [2, 2, 2, 6] + [6] * 12):
        for enemies in ((), (16,), (70,)):
            facts = scene_facts(scene(terrain, enemies))
            assert facts_from_text(perception_text(facts)) == facts


def test_ram_teacher_writes_a_strictly_parsable_answer():
    ann = RamTeacher().annotate(scene([2, 2, 0, 2] + [2] * 12), ("a", "right"))
    p = parse_response(ann.text)
    assert p.strict and p.buttons == ("a", "right")
    assert ann.reasoning == "pit near: jump right"
    assert RamTeacher().annotate(scene([2] * 16), ()).text.endswith("<answer>['noop']</answer>")


def test_perception_fidelity_counts_exact_and_per_fact():
    s = scene([2, 2, 0, 2] + [2] * 12, (20,))
    right = perception_text(scene_facts(s))
    pairs = [(right, s), ("on ground. pit near. no enemy.", s), ("garbage", s), (None, s)]
    f = perception_fidelity(pairs)
    assert f["perception_exact"] == 0.25
    assert f["perception_stance"] == 0.5 and f["perception_hazard"] == 0.5 and f["perception_enemy"] == 0.25


class _FakeChat(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeChat.seen.append((self.path, dict(self.headers), body))
        if body["model"] == "broken":
            self.send_response(500)
            self.end_headers()
            return
        reply = {"choices": [{"message": {"content": "<perception>a pit</perception><reasoning>jump</reasoning>"
                                                     "<answer>['a', 'right']</answer>"}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _FakeChat)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_teacher_sends_text_then_image_and_the_key_only_in_the_header(server, monkeypatch, caplog):
    monkeypatch.setenv("MY_TEACHER_KEY", "sk-secret-123")
    teacher = OpenAITeacher(server, "some-vlm", api_key_env="MY_TEACHER_KEY", upscale=2)
    frame = np.zeros((144, 160, 3), np.uint8)
    text, parsed = teacher.annotate_frame(frame, "hopland")
    assert parsed.buttons == ("a", "right") and parsed.strict
    path, headers, body = _FakeChat.seen[-1]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sk-secret-123"
    content = body["messages"][0]["content"]
    assert [c["type"] for c in content] == ["text", "image_url"] and "Hopland" in content[0]["text"]
    png = base64.b64decode(content[1]["image_url"]["url"].split(",", 1)[1])
    assert png[:4] == b"\x89PNG"
    assert "sk-secret" not in repr(teacher) and "sk-secret" not in caplog.text


def test_openai_teacher_errors_say_what_to_check(server):
    with pytest.raises(RuntimeError, match="HTTP 500.*model name 'broken'"):
        OpenAITeacher(server, "broken", retries=0).annotate_frame(np.zeros((144, 160, 3), np.uint8), "hopland")
    with pytest.raises(RuntimeError, match="cannot reach the teacher endpoint"):
        OpenAITeacher("http://127.0.0.1:9/v1", "m", timeout=2, retries=0).annotate_frame(np.zeros((144, 160, 3), np.uint8), "hopland")
