"""Helpers for the site's tests: a private copy of the weights, drawings, tiny models, a live server."""
from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from mnistcore.lab.config import class_signal_path, live_signal_path
from mnistcore.paths import DEFAULT_MODEL_PATH, WEIGHTS_DIR
from mnistcore.nets.numpy_net import NeuralNetWork

if __package__:  # imported as tests.sitetools (the benchmarks)
    from .ports import free_port, free_ports  # noqa: F401 - the site's tests take ports from here
else:
    from ports import free_port, free_ports  # noqa: F401

PROJECT_DIR = Path(__file__).resolve().parent.parent
APP = PROJECT_DIR / "streamlit_app.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def tiny_model(data, hidden: int = 16, samples: int = 1000, seed: int = 0) -> NeuralNetWork:
    """A small NumPy network trained for one epoch on the first `samples` images (well under 1 s)."""
    (x_train, y_train), _ = data
    net = NeuralNetWork(784, hidden, 10, 0.1, activation="relu", momentum=0.9, seed=seed)
    return net.fit(x_train[:samples], y_train[:samples], epochs=1, batch_size=64)


# The first shipped model (784-512-10 ReLU MLP, 98.43%): what tests of the MLP's own views (hidden
# units, the back query, the analytic gradient) and of Draw's thresholds, tuned on it, read.
FIRST_MLP = Path(__file__).resolve().parent / "data" / "first-shipped-mlp.npz"


def weights_copy(folder: Path, data, default: Path | None = None) -> Path:
    """A weights folder for one test, holding a copy of the shipped default model (or `default`).

    Where the shipped model is missing (it is made separately), a quickly trained stand-in takes
    its place, so the site's tests never depend on it and never touch the real weights/.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if default is not None:
        shutil.copy(default, folder / "default.npz")
    elif DEFAULT_MODEL_PATH.is_file():
        shutil.copy(DEFAULT_MODEL_PATH, folder / "default.npz")
    else:
        tiny_model(data, hidden=128, samples=20000).save(folder / "default.npz")
    return folder


def private_site(tmp_path: Path, monkeypatch, data):
    """The site in AppTest with its own weights folder and lab database, after its first run; returns
    (AppTest, weights folder, database path)."""
    from streamlit.testing.v1 import AppTest

    folder = weights_copy(tmp_path / "weights", data)
    db = tmp_path / "lab.db"
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at, folder, db


def canvas_image(image: np.ndarray, side: int = 280) -> np.ndarray:
    """`image` (grey uint8, 0 = background) as the canvas would hold it: (side, side, 4) RGBA."""
    picture = Image.fromarray(np.asarray(image, np.uint8)).resize((side, side), Image.BILINEAR)
    return np.asarray(picture.convert("RGBA"))


def shown_html(at, text: str) -> list[str]:
    """The st.html elements on an AppTest's page that contain `text` (their HTML)."""
    return [element.proto.body for element in at.get("html") if text in element.proto.body]


def drawing(image: np.ndarray, side: int = 280) -> dict:
    """The canvas component's value for a drawing of `image` (grey uint8, 0 = background).

    What streamlit-drawable-canvas sends after a stroke: the Fabric.js JSON and the canvas as a
    PNG data URL, from which `st_canvas(...).image_data` decodes an (H, W, 4) RGBA array; here
    that array is exactly `canvas_image(image, side)`.
    """
    buffer = io.BytesIO()
    Image.fromarray(canvas_image(image, side)).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": url}}


class SiteURL(str):
    """The site's base URL, which also knows the server's process id (`pid`), to measure it."""

    pid: int


@contextlib.contextmanager
def running_site(weights_dir: Path, timeout: float = 30.0, env: dict[str, str] | None = None):
    """`streamlit run` the site on a free port of 127.0.0.1; yields its base URL (a SiteURL).

    `env`: more environment variables for the server (e.g. MNISTLAB_FEEDBACK_DB).
    """
    port = free_port()
    env = {**os.environ, **(env or {}), "MNISTLAB_WEIGHTS_DIR": str(weights_dir)}
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--browser.gatherUsageStats", "false"]
    log = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe would stall the server
    server = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = SiteURL(f"http://127.0.0.1:{port}")
    url.pid = server.pid
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                log.seek(0)
                output = log.read().decode(errors="replace")
                raise RuntimeError(f"streamlit exited with {server.returncode}:\n{output[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the site did not answer on {url} within {timeout:g} s") from None
                time.sleep(0.1)  # polling a server that is starting, not timing anything
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        forget_live_signal(weights_dir)


def forget_live_signal(weights_dir: Path) -> None:
    """Remove the live-model file a server on the store in `weights_dir` wrote in static/ (see
    mnistcore.lab.store), unless that store is the project's own weights/: a temporary store's file
    would otherwise stay there, served, long after its server and its folder are gone."""
    signal = live_signal_path(weights_dir)
    if signal != live_signal_path(WEIGHTS_DIR):
        for path in (signal, class_signal_path(weights_dir)):  # the class board's file too
            with contextlib.suppress(OSError):
                path.unlink()
