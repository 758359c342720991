"""The lab's own handwriting: drawings visitors labelled, kept in an embedded SQLite database.

Each row is one drawing after preprocessing (28x28, stored as 784 uint8 bytes, MNIST's own
format), the size of the raw drawing, the digit the visitor says it is, the model's answer and
confidence, and which model answered. SQLite gives atomic, durable transactions: a server that
stops mid-write leaves the database as it was before that write.

A public site must not let strangers fill it up, so the store keeps at most `max_rows` drawings
(then `add` raises FeedbackFull), and nothing here reads the whole table on a page view: pages
read the rows they show (`rows`), a chunk at a time (`read`), or the newest few for a download
(`download`, built once per version of the collection and shared by every visitor).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import sqlite3
import threading
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from ..data import export_csv
from ..files import atomic_write_bytes
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
# A small index, so that COUNT(*) walks it rather than the whole table with its images: under a
# millisecond instead of 40 ms at 100,000 drawings (COUNT runs on every add and every page view).
INDEX = "CREATE INDEX IF NOT EXISTS drawings_by_label ON drawings (label)"
COLUMNS = "id, created_at, image, raw_height, raw_width, label, predicted, confidence, model"

MAX_ROWS = 20_000       # drawings the lab keeps at most (about 21 MB of database); then `add` refuses
DOWNLOAD_ROWS = 10_000  # the CSV and NPZ downloads hold the newest this many drawings at most
# A CSV row at its longest: the label, then 784 times "," and up to three digits, then "\n". So a
# download's CSV is at most DOWNLOAD_ROWS x 3,138 bytes = 31.4 MB (a typical drawing: ~1.8 kB);
# its NPZ is compressed: at most about 10,000 x 810 bytes = 8 MB (typically 1.6 MB).
CSV_ROW_MAX_BYTES = 1 + 784 * 4 + 1
DOWNLOAD_KINDS = ("csv", "npz")


class FeedbackError(RuntimeError):
    """The lab drawings database cannot be opened, read or written; the message names the file."""


class FeedbackFull(FeedbackError):
    """The lab drawings database holds its `max_rows` drawings already: this one was not stored."""


class Version(NamedTuple):
    """Which state of the collection: drawings are only ever added, so these two change with each."""

    count: int    # drawings stored
    last_id: int  # the newest drawing's id (0 when there are none)


@dataclass(frozen=True)
class Download:
    """A download of the collection: the file's bytes and which drawings it holds."""

    kind: str          # "csv" or "npz"
    data: bytes
    rows: int          # drawings in the file: the newest ones, oldest first
    version: Version   # the collection it was made from (version.count drawings in all)

    @property
    def partial(self) -> bool:
        """Does the file hold fewer drawings than the collection (only the newest)?"""
        return self.rows < self.version.count


@dataclass(frozen=True)
class Collected:
    """Labelled drawings: all of them or some (`FeedbackStore.read`, `rows`), oldest first unless asked otherwise."""

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

    def __init__(self, path: str | os.PathLike | None = None, create: bool = True,
                 max_rows: int = MAX_ROWS, download_rows: int = DOWNLOAD_ROWS):
        """Open the database at `path` (default: `config.feedback_db_path()`), creating it if need be.

        With `create=False` a missing database is a FileNotFoundError naming the path (for
        readers such as training, where an empty new database would hide a wrong path).
        `max_rows`: the most drawings `add` stores; `download_rows`: the most a download holds.
        """
        for name, value in (("max_rows", max_rows), ("download_rows", download_rows)):
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        self.max_rows = int(max_rows)
        self.download_rows = int(download_rows)
        self.path = Path(path) if path is not None else feedback_db_path()
        if not create and not self.path.is_file():
            raise FileNotFoundError(f"no lab drawings database at {self.path}: label some drawings "
                                    "on the Draw page first, or give the right path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._database(write=True) as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
            db.execute(SCHEMA)
            db.execute(INDEX)
        self._download_lock = threading.Lock()  # one download of a kind is built at a time
        self._downloads: dict[str, Download] = {}  # the newest of each kind, shared by every visitor

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

        `image`: (28, 28) float in [0, 1] (as preprocess returns it) or uint8. FeedbackFull when
        the store holds `max_rows` drawings already.
        """
        pixels = _as_uint8(image)
        for name, value in (("label", label), ("predicted", predicted)):
            if not (isinstance(value, (int, np.integer)) and 0 <= value <= 9):
                raise ValueError(f"{name} must be a digit 0-9, got {value!r}")
        height, width = (int(v) for v in raw_size)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self._database(write=True) as db:
            # Take the write lock before counting, so that no other writer (thread or process)
            # can add a drawing between the count and the insert: the cap holds under any load.
            db.execute("BEGIN IMMEDIATE")
            count = int(db.execute("SELECT COUNT(*) FROM drawings").fetchone()[0])
            if count >= self.max_rows:
                raise FeedbackFull(f"the lab's collection of drawings is full: it holds {count:,} drawings, "
                                   f"the most it keeps is {self.max_rows:,}, so this one was not stored")
            cursor = db.execute(
                "INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence, model)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (now, pixels.tobytes(), height, width, int(label), int(predicted), float(confidence), model),
            )
            return int(cursor.lastrowid)

    def count(self) -> int:
        """How many drawings there are."""
        return self.version().count

    def version(self) -> Version:
        """How many drawings there are and the newest one's id, read together (one statement)."""
        with self._database() as db:
            count, last_id = db.execute(
                "SELECT (SELECT COUNT(*) FROM drawings), (SELECT MAX(id) FROM drawings)").fetchone()
        return Version(int(count), int(last_id or 0))

    def all(self) -> Collected:
        """Every drawing, oldest first. The whole table: for training, not for a page view."""
        return self._select("ORDER BY id")

    def read(self, after: int = 0, up_to: int | None = None, limit: int | None = None) -> Collected:
        """The drawings with `after` < id <= `up_to` (no upper bound when None), oldest first, at most `limit`.

        For going through the collection a chunk at a time: pass the last id of one chunk as
        `after` to get the next.
        """
        for name, value in (("after", after), ("up_to", up_to), ("limit", limit)):
            if value is not None and not (isinstance(value, (int, np.integer)) and value >= 0):
                raise ValueError(f"{name} must be a whole number >= 0 or None, got {value!r}")
        up_to = up_to if up_to is not None else _MAX_ID
        limit = limit if limit is not None else -1  # SQLite: a negative LIMIT is no limit
        return self._select("WHERE id > ? AND id <= ? ORDER BY id LIMIT ?", (int(after), int(up_to), int(limit)))

    def rows(self, ids) -> Collected:
        """The drawings with these ids, in the order given (a page of a gallery); KeyError for a missing one."""
        ids = [int(i) for i in np.asarray(ids, np.int64).ravel()]
        parts = [self._select(f"WHERE id IN ({','.join('?' * len(part))})", tuple(part))
                 for part in (ids[start : start + _IDS_PER_QUERY]  # SQLite limits a query's parameters
                              for start in range(0, len(ids), _IDS_PER_QUERY))]
        found = _concat(parts) if parts else _collected([])
        position = {int(i): k for k, i in enumerate(found.ids)}
        missing = [i for i in ids if i not in position]
        if missing:
            raise KeyError(f"no lab drawing with id {missing[0]} in {self.path}")
        return _take(found, [position[i] for i in ids])

    def newest(self, count: int, up_to: int | None = None) -> Collected:
        """The newest `count` drawings with id <= `up_to` (all, when there are fewer), oldest first."""
        for name, value in (("count", count), ("up_to", up_to)):
            if value is not None and not (isinstance(value, (int, np.integer)) and value >= 0):
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        up_to = up_to if up_to is not None else _MAX_ID
        return self._select("WHERE id IN (SELECT id FROM drawings WHERE id <= ? ORDER BY id DESC LIMIT ?) ORDER BY id",
                            (int(up_to), int(count)))

    def _select(self, where: str, parameters: tuple = ()) -> Collected:
        with self._database() as db:
            rows = db.execute(f"SELECT {COLUMNS} FROM drawings {where}", parameters).fetchall()
        return _collected(rows)

    # ------------------------------------------------------------------ files and downloads

    def export_csv(self, path: str | os.PathLike, newest: int | None = None) -> Path:
        """The collected drawings (the newest `newest` only, if given) in the tutorial's CSV format
        (label, 784 pixels)."""
        collected = self._exported(newest)
        return export_csv(collected.images, collected.labels, path)

    def export_npz(self, path: str | os.PathLike, newest: int | None = None) -> Path:
        """The collected drawings (the newest `newest` only, if given) as .npz: images, labels,
        predicted, confidence, raw_sizes."""
        return atomic_write_bytes(path, _npz_bytes(self._exported(newest)))

    def csv_bytes(self, newest: int | None = None) -> bytes:
        """`export_csv`'s file, as bytes (for a download)."""
        return _csv_bytes(self._exported(newest))

    def npz_bytes(self, newest: int | None = None) -> bytes:
        """`export_npz`'s file, as bytes (for a download)."""
        return _npz_bytes(self._exported(newest))

    def download(self, kind: str) -> Download:
        """The newest `download_rows` drawings as a "csv" or "npz" file, for the download buttons.

        Made once per version of the collection and shared by every visitor: a thousand clicks
        cost one build, and a new build comes only after a drawing has been added.
        """
        if kind not in DOWNLOAD_KINDS:
            raise ValueError(f"a download is one of {', '.join(DOWNLOAD_KINDS)}, got {kind!r}")
        version = self.version()
        with self._download_lock:  # others asking meanwhile wait for this build, not build again
            made = self._downloads.get(kind)
            if made is None or made.version != version:
                # The rows of this version only, even if more have been added since it was read.
                rows = self.newest(self.download_rows, up_to=version.last_id)
                data = _csv_bytes(rows) if kind == "csv" else _npz_bytes(rows)
                made = self._downloads[kind] = Download(kind, data, len(rows), version)
            return made

    def _exported(self, newest: int | None) -> Collected:
        return self.all() if newest is None else self.newest(newest)


_MAX_ID = 2**63 - 1      # SQLite's largest id: "no upper bound"
_IDS_PER_QUERY = 500     # well under SQLite's limit on the parameters of one statement


def _collected(rows: list[tuple]) -> Collected:
    """Rows of (COLUMNS) as a Collected."""
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


def _take(c: Collected, positions: list[int]) -> Collected:
    """The drawings of `c` at these positions, in this order."""
    return Collected(c.ids[positions], c.images[positions], c.labels[positions], c.predicted[positions],
                     c.confidence[positions], c.raw_sizes[positions].reshape(-1, 2),
                     [c.models[k] for k in positions], [c.created_at[k] for k in positions])


def _concat(parts: list[Collected]) -> Collected:
    """The drawings of every part, one part after the other."""
    return Collected(*(np.concatenate([getattr(p, name) for p in parts]) for name in
                       ("ids", "images", "labels", "predicted", "confidence", "raw_sizes")),
                     [m for p in parts for m in p.models], [t for p in parts for t in p.created_at])


# The CSV cell of each pixel value, as 4 bytes padded with NUL: "0," + 2 NULs ... "255,". The last
# cell of a row ends in a newline instead. Looking the cells up and dropping the NULs writes the
# same bytes as np.savetxt (data.export_csv) ten times faster (0.2 s for 10,000 drawings).
_CELL = np.array([f"{v}," for v in range(256)], "S4").view(np.uint32)
_LAST_CELL = np.array([f"{v}\n" for v in range(256)], "S4").view(np.uint32)


def _csv_bytes(c: Collected) -> bytes:
    """The drawings in the tutorial's CSV format (a label, then 784 pixels, per line), as bytes."""
    rows = np.column_stack([c.labels.astype(np.uint8), c.images.reshape(len(c), 784)])  # (n, 785) uint8
    cells = _CELL[rows]                                                                  # (n, 785) uint32
    cells[:, -1] = _LAST_CELL[rows[:, -1]]
    return cells.tobytes().replace(b"\0", b"")


def _npz_bytes(c: Collected) -> bytes:
    """The drawings as a compressed .npz: images, labels, predicted, confidence, raw_sizes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=c.images, labels=c.labels, predicted=c.predicted,
                        confidence=c.confidence, raw_sizes=c.raw_sizes)
    return buffer.getvalue()


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
