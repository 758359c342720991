"""Downloads of the lab's drawings: the newest usable ones as one file, in the tutorial's CSV format
or as NumPy's .npz, made once per version of the collection and shared by every visitor."""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from ..data import csv_bytes
from .drawing_sets import Collected, Version

DOWNLOAD_ROWS = 10_000  # the CSV and NPZ downloads hold the newest this many drawings at most
# A CSV row at its longest: the label, then 784 times "," and up to three digits, then "\n". So a
# download's CSV is at most DOWNLOAD_ROWS x 3,138 bytes = 31.4 MB (a typical drawing: ~1.8 kB);
# its NPZ is compressed: at most about 10,000 x 810 bytes = 8 MB (typically 1.6 MB).
CSV_ROW_MAX_BYTES = 1 + 784 * 4 + 1
DOWNLOAD_KINDS = ("csv", "npz")


@dataclass(frozen=True)
class Download:
    """A download of the collection: the file's bytes and which drawings it holds."""

    kind: str          # "csv" or "npz"
    data: bytes
    rows: int          # drawings in the file: the newest ones, oldest first
    version: Version   # the collection it was made from
    usable: int = 0    # the drawings it could hold: those not held or rejected

    @property
    def partial(self) -> bool:
        """Does the file hold fewer drawings than it could (only the newest)?"""
        return self.rows < self.usable


def check_kind(kind: str) -> None:
    if kind not in DOWNLOAD_KINDS:
        raise ValueError(f"a download is one of {', '.join(DOWNLOAD_KINDS)}, got {kind!r}")


def file_bytes(kind: str, drawings: Collected) -> bytes:
    """`drawings` as a "csv" file (a label, then 784 pixels, per line) or an "npz" one (images,
    labels, predicted, confidence, raw_sizes)."""
    check_kind(kind)
    if kind == "csv":
        return csv_bytes(drawings.images, drawings.labels)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=drawings.images, labels=drawings.labels, predicted=drawings.predicted,
                        confidence=drawings.confidence, raw_sizes=drawings.raw_sizes)
    return buffer.getvalue()


class Downloads:
    """The newest download of each kind: a thousand clicks cost one build, and a new build comes
    only with a new version of the collection. One build of a kind at a time; others wait for it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._made: dict[str, Download] = {}

    def get(self, kind: str, version: Version, build: Callable[[], Download]) -> Download:
        """The download of `kind` made from `version`, built by `build()` unless made already."""
        with self._lock:
            made = self._made.get(kind)
            if made is None or made.version != version:
                made = self._made[kind] = build()
            return made
