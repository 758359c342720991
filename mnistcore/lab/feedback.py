"""The lab's own handwriting: drawings visitors labelled, kept in an embedded SQLite database.

Each row is one drawing after preprocessing (28x28, stored as 784 uint8 bytes, MNIST's own
format), the size of the raw drawing, the digit the visitor says it is, the model's answer and
confidence, and which model answered. SQLite gives atomic, durable transactions: a server that
stops mid-write leaves the database as it was before that write.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import tempfile
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..data import export_csv
from ..files import atomic_write
from .config import feedback_db_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS drawings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at    TEXT    NOT NULL,              -- ISO 8601, UTC
    image         BLOB    NOT NULL,              -- 784 bytes: the 28x28 image, 0 = background
    raw_height    INTEGER NOT NULL,              -- the drawing as made, before preprocessing
    raw_width     INTEGER NOT NULL,
    label         INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),      -- what the visitor says
    predicted     INTEGER NOT NULL CHECK (predicted BETWEEN 0 AND 9),  -- what the model said
    confidence    REAL    NOT NULL,
    model         TEXT    NOT NULL               -- the live model's summary when it answered
)
"""


class FeedbackError(RuntimeError):
    """The lab drawings database cannot be opened, read or written; the message names the file."""


@dataclass(frozen=True)
class Collected:
    """Every labelled drawing, oldest first."""

    ids: np.ndarray          # (n,) int64
    images: np.ndarray       # (n, 28, 28) uint8, MNIST format
    labels: np.ndarray       # (n,) uint8, the visitors' answers
    predicted: np.ndarray    # (n,) uint8, the model's answers at the time
    confidence: np.ndarray   # (n,) float32
    raw_sizes: np.ndarray    # (n, 2) int64: height, width of the raw drawing
    models: list[str]
    created_at: list[str]

    def __len__(self) -> int:
        return len(self.ids)


class FeedbackStore:
    """Adds and reads labelled drawings; safe to share between threads (a connection per call)."""

    def __init__(self, path: str | os.PathLike | None = None, create: bool = True):
        """Open the database at `path` (default: `config.feedback_db_path()`), creating it if need be.

        With `create=False` a missing database is a FileNotFoundError naming the path (for
        readers such as training, where an empty new database would hide a wrong path).
        """
        self.path = Path(path) if path is not None else feedback_db_path()
        if not create and not self.path.is_file():
            raise FileNotFoundError(f"no lab drawings database at {self.path}: label some drawings "
                                    "on the Draw page first, or give the right path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._database(write=True) as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0)  # waits for a concurrent writer, not fails
        db.execute("PRAGMA synchronous=FULL")          # a committed drawing survives a power cut
        return db

    @contextmanager
    def _database(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one call (committed, or rolled back on error, when `write`).

        SQLite's own errors (not a database, disk full, locked for too long) become FeedbackError.
        """
        try:
            with closing(self._connect()) as db:
                if write:
                    with db:
                        yield db
                else:
                    yield db
        except sqlite3.Error as err:
            raise FeedbackError(f"the lab drawings database {self.path} cannot be used: {err}") from err

    def add(self, image: np.ndarray, label: int, predicted: int, confidence: float,
            model: str, raw_size: tuple[int, int]) -> int:
        """Store one drawing in its own transaction; returns its id.

        `image`: (28, 28) float in [0, 1] (as preprocess returns it) or uint8.
        """
        pixels = _as_uint8(image)
        for name, value in (("label", label), ("predicted", predicted)):
            if not (isinstance(value, (int, np.integer)) and 0 <= value <= 9):
                raise ValueError(f"{name} must be a digit 0-9, got {value!r}")
        height, width = (int(v) for v in raw_size)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self._database(write=True) as db:
            cursor = db.execute(
                "INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence, model)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (now, pixels.tobytes(), height, width, int(label), int(predicted), float(confidence), model),
            )
            return int(cursor.lastrowid)

    def count(self) -> int:
        with self._database() as db:
            return int(db.execute("SELECT COUNT(*) FROM drawings").fetchone()[0])

    def all(self) -> Collected:
        with self._database() as db:
            rows = db.execute(
                "SELECT id, created_at, image, raw_height, raw_width, label, predicted, confidence, model"
                " FROM drawings ORDER BY id").fetchall()
        images = np.frombuffer(b"".join(r[2] for r in rows), np.uint8).reshape(-1, 28, 28).copy()
        return Collected(
            ids=np.array([r[0] for r in rows], np.int64),
            images=images,
            labels=np.array([r[5] for r in rows], np.uint8),
            predicted=np.array([r[6] for r in rows], np.uint8),
            confidence=np.array([r[7] for r in rows], np.float32),
            raw_sizes=np.array([(r[3], r[4]) for r in rows], np.int64).reshape(-1, 2),
            models=[r[8] for r in rows],
            created_at=[r[1] for r in rows],
        )

    def export_csv(self, path: str | os.PathLike) -> Path:
        """The collected drawings in the tutorial's CSV format (label, 784 pixels)."""
        collected = self.all()
        return export_csv(collected.images, collected.labels, path)

    def export_npz(self, path: str | os.PathLike) -> Path:
        """The collected drawings as .npz: images, labels, predicted, confidence, raw_sizes."""
        c = self.all()
        arrays = dict(images=c.images, labels=c.labels, predicted=c.predicted,
                      confidence=c.confidence, raw_sizes=c.raw_sizes)
        return atomic_write(path, lambda f: np.savez_compressed(f, **arrays))

    def csv_bytes(self) -> bytes:
        """`export_csv`'s file, as bytes (for a download)."""
        with tempfile.TemporaryDirectory(prefix="mnistlab-csv-") as folder:
            return self.export_csv(Path(folder) / "lab.csv").read_bytes()

    def npz_bytes(self) -> bytes:
        """`export_npz`'s file, as bytes (for a download)."""
        with tempfile.TemporaryDirectory(prefix="mnistlab-npz-") as folder:
            return self.export_npz(Path(folder) / "lab.npz").read_bytes()


def fingerprint(image: np.ndarray) -> str:
    """A short id for one drawing's 28x28 image: the same pixels give the same id.

    The Draw page remembers which drawings it has saved by this id, so none is stored twice.
    """
    return hashlib.sha1(_as_uint8(image).tobytes()).hexdigest()[:16]


def _as_uint8(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.shape != (28, 28):
        raise ValueError(f"a stored drawing must be a 28x28 image, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img
    if not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
        raise ValueError("a stored drawing must be uint8 or float in [0, 1]")
    return np.round(img * 255).astype(np.uint8)
