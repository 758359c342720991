"""Several server processes, one lab: real Streamlit processes on one weights folder, visited by
protocol-level visitors (tests/protocol.py), and the same behind nginx (deploy/serve_lab.py).

- One training slot across processes: a run started on process A; on process B the Train page
  offers only the queue, and B's visitor's place shows on A's page too; a monitor reading the
  slot's board throughout sees exactly one run training at any moment.
- A model published by another process (this test's) is served by A and B within a few seconds;
  both serve on uvloop, with httptools parsing HTTP (requirements.txt: a crowd's p95 halved).
- nginx in front of two processes answers, keeps one browser on one process (by a cookie) while
  spreading new ones, carries the websocket, and everything stops with the launcher (skipped with
  the reason where nginx is not installed, except in CI, which installs it).
"""
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import protocol
from streamlit.proto.WidgetStates_pb2 import WidgetState
from mnistcore.lab.config import live_signal_path
from mnistcore.lab.coordination import RunBoard
from mnistcore.lab.store import ModelStore
from sitetools import PROJECT_DIR, free_ports, running_site, tiny_model, weights_copy

sys.path.insert(0, str(PROJECT_DIR / "deploy"))
from serve_lab import find_nginx  # noqa: E402 - deploy/ is not a package

# On 2,000 images: minutes, time enough to look at it (small steps: batch 1 must not blow up and stop itself).
SLOW_RUN = {"Epochs": 30, "Batch size": 1, "Learning rate": 0.01}


def wait_until(condition, timeout: float, every: float = 0.1):
    """Wait for `condition()` to return something true (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {getattr(condition, '__doc__', None) or condition}")
        pause.wait(every)  # looking again at a server that changes by itself, not timing anything


class BoardMonitor:
    """Reads the slot's board as fast as it can in a thread, and keeps the most runs it ever saw training."""

    def __init__(self, path):
        self.board, self.most_running, self.reads = RunBoard(path), 0, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._done.is_set():
            running = sum(row["run"]["state"] == "running" for row in self.board.read().values())
            self.most_running, self.reads = max(self.most_running, running), self.reads + 1
            self._done.wait(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(5)


def start_slow_run(visitor: protocol.Visitor) -> None:
    values = [protocol.number(visitor.widget_id("number_input", f"{label} ("), value)
              for label, value in SLOW_RUN.items()]
    visitor.run(*values)
    visitor.run(*values, protocol.click(visitor.widget_id("button", "Start training")))


def buttons(visitor: protocol.Visitor) -> list[str]:
    return [button.label for button in visitor.of_type("button")]


@pytest.fixture
def weights(tmp_path, small_mnist):
    return weights_copy(tmp_path / "weights", small_mnist)


def test_two_processes_share_one_training_slot(tmp_path, weights):
    env = {"MNISTLAB_TRAIN_LIMIT": "2000", "MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db")}
    with running_site(weights, env=env) as a, running_site(weights, env=env) as b, \
            BoardMonitor(weights / "runs" / "slot.db") as monitor:
        ada = protocol.Visitor(a).open("train")
        start_slow_run(ada)
        assert "Your model is training" in ada.text()

        grace = protocol.Visitor(b).open("train")  # another visitor, on the other process
        assert "is training a model" in grace.text()
        assert "Join the queue" in buttons(grace) and "Start training" not in buttons(grace)
        grace.run(protocol.click(grace.widget_id("button", "Join the queue")))
        assert "You are number 1 in the queue" in grace.text()
        assert "Waiting (1 of 5 places taken)" in ada.run().text()  # A shows B's queue

        ada.run(protocol.click(ada.widget_id("button", "Stop")))
        wait_until(lambda: "You stopped the run." in ada.run().text(), 30)
        # B's own worker notices that the slot is free and trains Grace's run (10 quick epochs).
        wait_until(lambda: any(w in grace.run().text() for w in ("Your model is training", "Test accuracy")), 30)
        wait_until(lambda: "Test accuracy" in grace.run().text(), 120)
        for visitor in (ada, grace):
            visitor.close()
    print(f"\nboard read {monitor.reads} times while the runs trained; most runs training at once: "
          f"{monitor.most_running}")
    assert monitor.most_running == 1 and monitor.reads > 100


def banner(visitor: protocol.Visitor) -> str:
    return next(p.body for p in visitor.of_type("markdown") if "Live model" in p.body)


def test_a_model_published_by_another_process_is_served_by_every_process(tmp_path, small_mnist, weights):
    env = {"MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db")}
    with running_site(weights, env=env) as a, running_site(weights, env=env) as b:
        viewers = [protocol.Visitor(url).open("draw") for url in (a, b)]
        assert all("the shipped model" in banner(viewer) for viewer in viewers)
        for url in (a, b):  # served on uvloop, HTTP parsed by httptools (requirements.txt says why)
            libraries = (Path("/proc") / str(url.pid) / "maps").read_text()
            assert "/uvloop/loop." in libraries and "/httptools/parser/" in libraries
        # The publisher is this test's own process: to A and B, a process like any other.
        published = ModelStore(weights).publish(tiny_model(small_mnist, hidden=32, samples=3000))
        made_live = time.perf_counter()
        for viewer in viewers:
            wait_until(lambda viewer=viewer: "trained and published here" in banner(viewer.run()), 5)
            print(f"\nserved {time.perf_counter() - made_live:.1f} s after the publish")
            assert published.info.summary() in [p.help for p in viewer.of_type("markdown") if "Live model" in p.body]
            viewer.close()


@contextlib.contextmanager
def serve_lab(processes: int, env: dict, *options: str):
    """deploy/serve_lab.py on a free port of 127.0.0.1 (with more command-line `options`); yields
    (proxy URL, launcher, state folder)."""
    nginx = find_nginx()
    if nginx is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("nginx must be installed in CI (.ci/run installs nginx-light)")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    state = env["STATE"]
    port = free_ports(processes + 1)  # nginx's, then the processes' (reserved: nobody else takes them)
    command = [sys.executable, str(PROJECT_DIR / "deploy" / "serve_lab.py"), "--processes", str(processes),
               "--port", str(port), "--address", "127.0.0.1", "--state-dir", str(state), "--nginx", nginx, *options]
    launcher = subprocess.Popen(command, cwd=PROJECT_DIR, env={**os.environ, **env["ENV"]},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = launcher.stdout.readline()  # the launcher prints one line once everything answers
    url = f"http://127.0.0.1:{port}"
    try:
        if "behind nginx" not in ready:
            launcher.wait(60)  # it is ending: its output and logs are complete
            logs = "".join(log.read_text(errors="replace")[-1500:] for log in Path(state).glob("streamlit-*.log"))
            pytest.fail(f"serve_lab did not start: {ready}{launcher.stdout.read()}\n{logs}")
        yield url, launcher, state
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)
        launcher.wait(60)


def answer(url: str, cookie: str | None = None) -> tuple[bytes, str | None, str | None]:
    """The body, which process answered (nginx says so), and the cookie nginx set, if any."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as reply:
        ours = [c for c in reply.headers.get_all("Set-Cookie") or [] if c.startswith("mnistlab_process=")]
        return reply.read(), reply.headers.get("X-MNISTLab-Process"), ours[0] if ours else None


def upstreams_of(state) -> list[str]:
    """The Streamlit processes' addresses in the nginx configuration serve_lab wrote."""
    return [line.split()[1].rstrip(";") for line in (state / "nginx.conf").read_text().splitlines()
            if line.strip().startswith("server 127.0.0.1:")]


def test_nginx_in_front_of_two_processes(tmp_path, weights):
    env = {"STATE": tmp_path / "state", "ENV": {"MNISTLAB_WEIGHTS_DIR": str(weights),
                                               "MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db")}}
    with serve_lab(2, env, "--process-header") as (url, launcher, state):
        body, process, cookie = answer(f"{url}/_stcore/health")
        assert body == b"ok" and process is not None and cookie is not None
        cookie = cookie.split(";")[0]
        # Sticky: a browser (its cookie) stays on one process, and is not given a new cookie...
        assert {answer(f"{url}/_stcore/health", cookie)[1:] for _ in range(10)} == {(process, None)}
        # ...while new browsers, even from one address, are spread over both (all 30 on one: 2 in a billion).
        assert len({answer(f"{url}/_stcore/health")[1] for _ in range(30)}) == 2
        visitor = protocol.Visitor(url).open("draw")  # the websocket, through nginx
        assert "Live model" in banner(visitor)
        visitor.close()
        # The live-model file open pages poll comes from nginx itself, never from a process.
        signal_url = f"{url}/app/static/{live_signal_path(weights).name}"
        with urllib.request.urlopen(signal_url, timeout=10) as reply:
            assert json.loads(reply.read()) == {"live": "default"}
            assert reply.headers["Cache-Control"] == "no-store" and reply.headers.get("X-MNISTLab-Process") is None
        with pytest.raises(urllib.error.HTTPError, match="404"):  # nothing else there: hidden files, strays
            answer(f"{url}/app/static/.gitignore")
        upstreams = upstreams_of(state)
        assert len(upstreams) == 2 and process in upstreams
        for upstream in upstreams:
            assert answer(f"http://{upstream}/_stcore/health")[0] == b"ok"
        nginx_pid = int((state / "nginx.pid").read_text())
        launcher.send_signal(signal.SIGTERM)  # as Ctrl-C: everything it started stops
        assert launcher.wait(60) == 0
    for address in [url.removeprefix("http://"), *upstreams]:
        with pytest.raises(OSError):
            answer(f"http://{address}/_stcore/health")
    with pytest.raises(ProcessLookupError):
        os.kill(nginx_pid, 0)


def half_open(port: int, count: int) -> list[socket.socket]:
    """`count` connections to 127.0.0.1:`port`, each having sent half a request's header, and held."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 500:  # this process' own open-file limit, raised where the system allows
        if hard != resource.RLIM_INFINITY and hard < count + 500:
            pytest.skip(f"holding {count} connections needs an open-file limit over {count + 500}; "
                        f"the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count + 500, hard))
    held = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        held.append(connection)
    return held


def test_nginx_shows_strangers_nothing_and_outlasts_one_client(tmp_path, weights):
    env = {"STATE": tmp_path / "state", "ENV": {"MNISTLAB_WEIGHTS_DIR": str(weights),
                                               "MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db")}}
    with serve_lab(1, env) as (url, _, state):
        with urllib.request.urlopen(f"{url}/", timeout=10) as reply:
            headers = reply.headers
        assert headers.get("X-MNISTLab-Process") is None and headers["Server"] == "nginx"  # no version
        assert headers["X-Frame-Options"] == "SAMEORIGIN" and headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'self'" in headers["Content-Security-Policy"] and headers["Referrer-Policy"]
        for private in ("/_stcore/metrics", "/app/static/.gitignore", "/app/static/anything.txt"):
            with pytest.raises(urllib.error.HTTPError, match="404"):
                answer(url + private)
        # One client holding 5,000 half-sent requests: a new visitor still opens Draw and is answered.
        port = int(url.rsplit(":", 1)[1])
        held = half_open(port, 5000)
        try:
            visitor = protocol.Visitor(url).open("draw")
            assert "Live model" in banner(visitor)
            visitor.close()
        finally:
            for connection in held:
                connection.close()
        assert "worker_connections are not enough" not in (state / "error.log").read_text()


def train_quickly(visitor: protocol.Visitor) -> None:
    """Start a one-epoch run from `visitor`'s Train page (joining the queue if need be)."""
    ids = {label: visitor.widget_id("number_input", label) for label in ("Epochs", "Batch size")}
    button = next(b.id for b in visitor.of_type("button") if b.label in ("Start training", "Join the queue"))
    visitor.run(protocol.number(ids["Epochs"], 1), protocol.number(ids["Batch size"], 64), protocol.click(button))


def test_two_publishes_only_the_live_one_is_told_so(tmp_path, weights):
    env = {"MNISTLAB_TRAIN_LIMIT": "2000", "MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db")}
    with running_site(weights, env=env) as one, running_site(weights, env=env) as two:
        ada, grace = protocol.Visitor(one).open("train"), protocol.Visitor(two).open("train")
        for visitor in (ada, grace):  # one run after the other: one slot for both processes
            train_quickly(visitor)
            wait_until(lambda v=visitor: "Publish" in v.run().text(), 120)
        for visitor in (ada, grace):  # Ada publishes, then Grace, each on her own process (worse than
            # the shipped model, so each ticks "publish anyway")
            tick = WidgetState(id=visitor.widget_id("checkbox", "Yes: replace"), bool_value=True)
            visitor.run(tick, protocol.click(visitor.widget_id("button", "Publish")))
        assert "it is the live model now" in grace.run().text()
        shown = ada.run().text()
        assert "Published: another model has been made live since" in shown and "live model now" not in shown
        assert json.loads((weights / "live.json").read_text())["live"] in grace.text()
        ada.close()
        grace.close()
