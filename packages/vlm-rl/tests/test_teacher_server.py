"""The OpenAI-compatible teacher against a local server that fails in each way: what is retried, what fails at
once and what the errors say; the reply cache, and an annotation resumed after a failure paying only for the rest."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from vlm_rl.cli import compose
from vlm_rl.dataset import load_split
from vlm_rl.runs import RunDir
from vlm_rl.stages.annotate import annotate
from vlm_rl.stages.teachers import OpenAITeacher

GOOD = "<perception>a pit</perception><reasoning>jump</reasoning><answer>['a', 'right']</answer>"


class Server:
    """Answers request i with plan[i] (an HTTP status, ("retry-after", s), ("slow", s), ("body", bytes),
    "drop", or a reply text), then `then` for every request after the plan."""

    def __init__(self):
        self.plan, self.then, self.seen, self.ok = [], GOOD, [], 0
        self.lock = threading.Lock()


def _handler(srv: Server):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            with srv.lock:
                step = srv.plan[len(srv.seen)] if len(srv.seen) < len(srv.plan) else srv.then
                srv.seen.append(dict(self.headers))
            try:
                self._answer(step)
            except OSError:  # the client gave up (the timeout test)
                pass

        def _answer(self, step):
            if step == "drop":
                self.close_connection = True
                return
            if isinstance(step, int):
                data = json.dumps({"error": f"you sent {self.headers.get('Authorization')}"}).encode()
                self._send(step, data)
                return
            if isinstance(step, tuple) and step[0] == "retry-after":
                self._send(429, b"{}", {"Retry-After": step[1]})
                return
            if isinstance(step, tuple) and step[0] == "slow":
                time.sleep(step[1])
                step = GOOD
            data = step[1] if isinstance(step, tuple) else json.dumps({"choices": [{"message": {"content": step}}]}).encode()
            with srv.lock:
                srv.ok += 1
            self._send(200, data)

        def _send(self, code, data, headers=()):
            self.send_response(code)
            for k, v in dict(headers).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def srv():
    s = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(s))
    httpd.daemon_threads = True  # teardown does not wait for the slow reply
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    s.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield s
    httpd.shutdown()
    httpd.server_close()


def frame(i=0):
    return np.full((144, 160, 3), i, np.uint8)


def teacher(url, sleeps, **kw):
    return OpenAITeacher(url, "some-vlm", sleep=sleeps.append, **{"retries": 3, "backoff": 0.01, **kw})


@pytest.mark.parametrize("plan, sleeps_want", [
    ([500], [0.01]),
    ([502, 503], [0.01, 0.02]),
    ([("retry-after", "0.05")], [0.05]),  # the server's wait, not the backoff
    ([("retry-after", "3600")], [0.5]),  # capped by max_retry_after
    ([("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], [0.01]),  # a date: the backoff
    ([429], [0.01]),
    ([("body", b"<html>bad gateway</html>")], [0.01]),
    ([("body", b'{"choices": []}')], [0.01]),
    ([("body", b'{"choices": [{"message": {"content": null}}]}')], [0.01]),
    (["drop"], [0.01]),
])
def test_transient_failures_are_retried_with_backoff(srv, plan, sleeps_want):
    srv.plan, sleeps = plan, []
    text, parsed = teacher(srv.url, sleeps, max_retry_after=0.5).annotate_frame(frame(), "hopland")
    assert (text, parsed.buttons) == (GOOD, ("a", "right"))
    assert len(srv.seen) == len(plan) + 1 and srv.ok == 1 + sum(isinstance(p, tuple) and p[0] == "body" for p in plan)
    assert sleeps == sleeps_want


def test_a_reply_slower_than_the_timeout_is_retried(srv):
    srv.plan, sleeps = [("slow", 1.0)], []
    start = time.monotonic()
    text, _ = teacher(srv.url, sleeps, timeout=0.2, backoff=0).annotate_frame(frame(), "hopland")
    assert text == GOOD and len(srv.seen) == 2 and sleeps == [0]
    assert time.monotonic() - start < 0.9  # did not wait for the slow reply


@pytest.mark.parametrize("code", [400, 401, 403, 404])
def test_client_errors_fail_at_once_naming_endpoint_status_model_and_env_var_not_the_key(srv, monkeypatch, code):
    monkeypatch.setenv("MY_TEACHER_KEY", "sk-very-secret-42")
    srv.then, sleeps = code, []
    with pytest.raises(RuntimeError) as e:
        teacher(srv.url, sleeps, api_key_env="MY_TEACHER_KEY", retries=5).annotate_frame(frame(), "hopland")
    msg = str(e.value)
    assert f"{srv.url}/chat/completions answered HTTP {code}" in msg and "not retried" in msg
    assert "'some-vlm'" in msg and "$MY_TEACHER_KEY" in msg
    assert "sk-very-secret" not in msg and "Bearer ***" in msg  # the server echoed the header: redacted
    assert len(srv.seen) == 1 and sleeps == []


def test_giving_up_names_the_endpoint_the_tries_and_the_last_failure(srv):
    srv.then, sleeps = 500, []
    with pytest.raises(RuntimeError) as e:
        teacher(srv.url, sleeps).annotate_frame(frame(), "hopland")
    assert f"teacher endpoint {srv.url}/chat/completions failed 4 tries; the last: HTTP 500." in str(e.value)
    assert len(srv.seen) == 4 and sleeps == [0.01, 0.02, 0.04]


def test_an_unreachable_endpoint_is_retried_then_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    sleeps = []
    with pytest.raises(RuntimeError, match=rf"cannot reach the teacher endpoint http://127.0.0.1:{port}/v1/chat/"
                                           r"completions failed 2 tries; the last: connection failed"):
        teacher(f"http://127.0.0.1:{port}/v1", sleeps, retries=1, backoff=0).annotate_frame(frame(), "hopland")
    assert sleeps == [0]


def test_the_cache_answers_a_new_teacher_without_a_request(srv, tmp_path):
    cache, frames = tmp_path / "cache.jsonl", [frame(i) for i in range(5)]
    srv.plan = [f"{GOOD} #{i}" for i in range(5)]
    first = teacher(srv.url, [], cache=cache)
    texts = [first.annotate_frame(f, "hopland")[0] for f in frames]
    assert sorted(texts) == sorted(srv.plan) and len(srv.seen) == 5 and len(cache.read_text().splitlines()) == 5
    with cache.open("a") as f:
        f.write('{"key": "cut sho')  # a run killed mid-line
    again = teacher(srv.url, [], cache=cache)
    assert [again.annotate_frame(f, "hopland")[0] for f in frames] == texts
    assert len(srv.seen) == 5 and (again.requests, again.cache_hits) == (0, 5)
    other = OpenAITeacher(srv.url, "other-vlm", cache=cache)  # the model is part of the key
    assert other.annotate_frame(frames[0], "hopland")[0] == GOOD and len(srv.seen) == 6
    assert len(OpenAITeacher(srv.url, "x", cache=cache)._cache) == 6  # the line after the cut one reads back


def video_cfg(tmp_path, url, n, *extra):
    video = tmp_path / "play.gif"
    if not video.exists():
        imgs = [Image.fromarray(np.full((144, 160, 3), 12 * i, np.uint8)) for i in range(n)]
        imgs[0].save(video, save_all=True, append_images=imgs[1:], duration=50)
    return compose(["+exp=hopland", f"out_dir={tmp_path / 'run'}", "annotate.teacher=openai", f"annotate.frames={n}",
                    f"annotate.videos=[{video}]", f"annotate.video_frames={n}", "annotate.heldout=0",
                    f"annotate.openai.base_url={url}", "annotate.openai.model=fake-vlm", "annotate.openai.retries=1",
                    "annotate.openai.backoff=0", *extra])


def test_an_annotation_stopped_by_a_failure_resumes_paying_only_for_the_missing_frames(srv, tmp_path):
    n, k = 10, 4
    srv.plan, srv.then = [GOOD] * (k - 1), 401  # request k and every one after: a permanent failure
    with pytest.raises(RuntimeError, match="HTTP 401"):
        annotate(video_cfg(tmp_path, srv.url, n))
    run = RunDir(tmp_path / "run")
    assert not run.done("annotate") and srv.ok == k - 1
    assert len((run.data / "teacher_cache.jsonl").read_text().splitlines()) == k - 1
    first = len(srv.seen)
    srv.then = GOOD
    out = annotate(video_cfg(tmp_path, srv.url, n, "resume=true"))
    assert len(srv.seen) - first == n - (k - 1) and srv.ok == n
    assert run.done("annotate") and len(load_split(out, "train")) == n
    # done and resumed: nothing is asked again
    annotate(video_cfg(tmp_path, srv.url, n, "resume=true"))
    assert srv.ok == n


def test_a_dataset_with_no_frames_is_an_error_and_not_complete(srv, tmp_path):
    annotate(video_cfg(tmp_path, srv.url, 4))
    run = RunDir(tmp_path / "run")
    assert run.done("annotate") and len(load_split(run.data)) == 4
    srv.then = "I see a game."  # no <answer>: every reply unparsable
    with pytest.raises(RuntimeError, match=r"has no frames: all 4 teacher replies were unparsable.*teacher_cache"):
        annotate(video_cfg(tmp_path, srv.url, 4, "annotate.openai.model=chatty-vlm"))
    assert not run.done("annotate")  # the old DONE.json went when the rewrite began
    assert sorted(p.name for p in run.data.iterdir()) == ["teacher_cache.jsonl", "test", "train"]
