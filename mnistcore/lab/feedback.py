"""The lab's own handwriting: drawings visitors labelled, kept in an embedded SQLite database.

Each row is one drawing after preprocessing (28x28, stored as 784 uint8 bytes, MNIST's own
format), the size of the raw drawing, the digit the visitor says it is, the model's answer and
confidence, and which model answered. SQLite gives atomic, durable transactions: a server that
stops mid-write leaves the database as it was before that write.

A public site must not let strangers fill it up, so the store keeps at most `max_rows` drawings
(then `add` raises FeedbackFull), and nothing here reads the whole table on a page view: pages
read the rows they show (`rows`), a chunk at a time (`read`), or the newest few for a download
(`download`, built once per version of the collection and shared by every visitor).

Labels can be wrong, so before anything trains on them: whoever labelled a drawing can take it
back for UNDO_SECONDS (`undo`, by the opaque visitor key `add` was given, which is stored and never
shown); a label no model agrees with is held (mnistcore.lab.review) until an
operator accepts or rejects it (`held`, `review`). Training reads `training_set()`: only the
labels not held or rejected, with a note of how far the collection went (to tell later which
drawings a model did not train on). Downloads hold the same drawings.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from collections.abc import Iterator

import numpy as np

from . import downloads
from .config import feedback_db_path
from .downloads import DOWNLOAD_ROWS, Download, check_kind
from .drawing_sets import COLUMNS, Collected, TrainingSet, Version, collected, concat, take
from .review import should_hold

# A drawing's status: "ok" as labelled; "held" for review (no model agreed with the
# label); then "accepted" or "rejected" by an operator. Only USABLE drawings are trained on.
OK, HELD, ACCEPTED, REJECTED = "ok", "held", "accepted", "rejected"
USABLE = (OK, ACCEPTED)
DECISIONS = (ACCEPTED, REJECTED)

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
    model         TEXT    NOT NULL,              -- the live model's summary when it answered
    {added}
)
"""
# Columns newer than the first databases. A database made before them gets them when it is opened
# (ALTER TABLE: old rows read as labelled by nobody known, "ok", probability not known).
ADDED_COLUMNS = {
    "visitor": "visitor TEXT",  # an opaque key (a hash) of who labelled it, for their Undo; never shown
    "status": "status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'held', 'accepted', 'rejected'))",
    "label_probability": "label_probability REAL",  # the live model's probability for the label
    # 1: the visitor said it is not a digit at all (its label is then the model's digit, unused):
    # never trained on as a digit, kept as what people draw that is not one.
    "not_digit": "not_digit INTEGER NOT NULL DEFAULT 0 CHECK (not_digit IN (0, 1))",
}
SCHEMA = SCHEMA.format(added=",\n    ".join(ADDED_COLUMNS.values()))
# Undo and review change drawings without adding one: they count here, so that everything made
# from one version of the collection (reports, downloads) knows to be made again.
COUNTERS = "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
# A small index, so that COUNT(*) walks it rather than the whole table with its images (COUNT runs
# on every add and every page view).
INDEX = "CREATE INDEX IF NOT EXISTS drawings_by_label ON drawings (label)"
# The same for the held drawings (the operator's list) and for each drawing's status (the report).
STATUS_INDEX = "CREATE INDEX IF NOT EXISTS drawings_by_status ON drawings (status)"
_USABLE_SQL = "status IN ('ok', 'accepted') AND not_digit = 0"

UNDO_SECONDS = 600      # a visitor can undo their label this long after saving it: "within their visit"
VISITOR_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")  # what `add` accepts as a visitor key (a hash of the token)
REVIEW_BATCH = 100      # drawings one review decision may name (a page of them at most)

MAX_ROWS = 20_000       # drawings the lab keeps at most (about 21 MB of database); then `add` refuses


class FeedbackError(RuntimeError):
    """The lab drawings database cannot be opened, read or written; the message names the file."""


class FeedbackFull(FeedbackError):
    """The lab drawings database holds its `max_rows` drawings already: this one was not stored."""


class UndoRefused(ValueError):
    """This label cannot be undone (not this visitor's, too long ago, or gone already); says which."""


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
            db.execute("BEGIN IMMEDIATE")  # two servers opening an old database add its columns once
            db.execute(SCHEMA)
            have = {row[1] for row in db.execute("PRAGMA table_info(drawings)")}
            for name, definition in ADDED_COLUMNS.items():
                if name not in have:
                    db.execute(f"ALTER TABLE drawings ADD COLUMN {definition}")
            db.execute(COUNTERS)
            db.execute(INDEX)
            db.execute(STATUS_INDEX)
        self._downloads = downloads.Downloads()  # the newest of each kind, shared by every visitor

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
            model: str, raw_size: tuple[int, int], visitor: str | None = None,
            probabilities=None, others=(), not_digit: bool = False) -> int:
        """Store one drawing in its own transaction; returns its id (for `undo`).

        `image`: (28, 28) float in [0, 1] (as preprocess returns it) or uint8. `visitor`: an
        opaque key of who labelled it (8-64 letters, digits, - or _: a hash of their token, never
        the token), without which nobody can undo it. `probabilities`: the live model's (10,)
        probabilities for the drawing, and `others` those of more models: when none of them
        agrees with `label` the drawing is held for review (review.should_hold).
        FeedbackFull when the store holds `max_rows` drawings already. `not_digit`: the visitor says
        it is not a digit at all (`label` is then the model's digit): stored as such, never trained
        on as a digit, and held like any label no model agrees with.
        """
        pixels = _as_uint8(image)
        for name, value in (("label", label), ("predicted", predicted)):
            if not (isinstance(value, (int, np.integer)) and 0 <= value <= 9):
                raise ValueError(f"{name} must be a digit 0-9, got {value!r}")
        _check_visitor(visitor, allow_none=True)
        held = probabilities is not None and should_hold(None if not_digit else label, probabilities, others)
        label_probability = (float(np.asarray(probabilities)[label]) if probabilities is not None and not not_digit
                             else None)
        height, width = (int(v) for v in raw_size)
        now = _now().isoformat(timespec="seconds")
        with self._database(write=True) as db:
            # Take the write lock before counting, so that no other writer (thread or process)
            # can add a drawing between the count and the insert: the cap holds under any load.
            db.execute("BEGIN IMMEDIATE")
            count = int(db.execute("SELECT COUNT(*) FROM drawings").fetchone()[0])
            if count >= self.max_rows:
                raise FeedbackFull(f"the lab's collection of drawings is full: it holds {count:,} drawings, "
                                   f"the most it keeps is {self.max_rows:,}, so this one was not stored")
            cursor = db.execute(
                "INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence, model,"
                " visitor, status, label_probability, not_digit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, pixels.tobytes(), height, width, int(label), int(predicted), float(confidence), model,
                 visitor, HELD if held else OK, label_probability, int(not_digit)),
            )
            return int(cursor.lastrowid)

    def undo(self, drawing_id: int, visitor: str) -> None:
        """Delete drawing `drawing_id`, if `visitor` (the key given to `add`) labelled it under
        UNDO_SECONDS ago; else UndoRefused, saying why, and nothing changes.

        Deleted, not marked: a visitor who takes their drawing back expects it gone, and it stops
        counting towards `max_rows`.
        """
        if not (isinstance(drawing_id, (int, np.integer)) and drawing_id >= 1):
            raise ValueError(f"a drawing's id is a whole number >= 1, got {drawing_id!r}")
        _check_visitor(visitor)
        with self._database(write=True) as db:
            db.execute("BEGIN IMMEDIATE")  # nobody changes the row between the checks and the delete
            row = db.execute("SELECT visitor, created_at FROM drawings WHERE id = ?", (int(drawing_id),)).fetchone()
            if row is None:
                raise UndoRefused(f"drawing {drawing_id} is not in the lab's collection: it was undone already")
            owner, created_at = row
            # In constant time, like the passcode: the answer must not hint at another visitor's key.
            if owner is None or not hmac.compare_digest(owner.encode("utf-8"), visitor.encode("utf-8")):
                raise UndoRefused(f"drawing {drawing_id} was labelled by someone else: only they can undo it")
            age = (_now() - dt.datetime.fromisoformat(created_at)).total_seconds()
            if age > UNDO_SECONDS:
                raise UndoRefused(f"drawing {drawing_id} was labelled {age / 60:.0f} minutes ago: a label can be "
                                  f"undone for {UNDO_SECONDS // 60} minutes after it is saved")
            db.execute("DELETE FROM drawings WHERE id = ?", (int(drawing_id),))
            _count_change(db)

    def held(self, limit: int, offset: int = 0) -> Collected:
        """The drawings held for review, oldest first: `limit` of them from the `offset`-th (a page)."""
        for name, value in (("limit", limit), ("offset", offset)):
            if not (isinstance(value, (int, np.integer)) and value >= 0):
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        return self._select("WHERE status = 'held' ORDER BY id LIMIT ? OFFSET ?", (int(limit), int(offset)))

    def held_count(self) -> int:
        """How many drawings wait for review (counted in the small status index)."""
        with self._database() as db:
            return int(db.execute("SELECT COUNT(*) FROM drawings WHERE status = 'held'").fetchone()[0])

    def review(self, ids, decision: str) -> int:
        """Accept or reject held drawings (at most REVIEW_BATCH at a time); returns how many changed.

        Only drawings still held change, in one transaction: the same decision twice, or two
        operators deciding at once, decides each drawing once (the first decision stands), and a
        drawing undone meanwhile is simply not there.
        """
        if decision not in DECISIONS:
            raise ValueError(f"a review decision is one of {', '.join(DECISIONS)}, got {decision!r}")
        ids = [int(i) for i in np.asarray(ids, np.int64).ravel()]
        if len(ids) > REVIEW_BATCH:
            raise ValueError(f"one review decision names at most {REVIEW_BATCH} drawings, got {len(ids)}")
        if not ids:
            return 0
        with self._database(write=True) as db:
            changed = db.execute(f"UPDATE drawings SET status = ? WHERE status = 'held' AND id IN "
                                 f"({','.join('?' * len(ids))})", (decision, *ids)).rowcount
            if changed:
                _count_change(db)
        return int(changed)

    def count(self) -> int:
        """How many drawings there are."""
        return self.version().count

    def version(self) -> Version:
        """How many drawings there are, the newest one's id and the changes so far, read together."""
        with self._database() as db:
            return _version(db)

    def statuses(self) -> tuple[Version, np.ndarray, list[str]]:
        """The version, and every drawing's id (oldest first) and status as of that version.

        Read from the small status index in one snapshot, so the three agree: what a report
        needs to catch up with undos and reviews without reading any image.
        """
        with self._database() as db:
            db.execute("BEGIN")  # one read transaction: the version and the rows are of one moment
            version = _version(db)
            # Walking the status index, not the table with its images.
            rows = db.execute("SELECT id, status FROM drawings INDEXED BY drawings_by_status").fetchall()
        rows.sort()  # by id
        return version, np.array([r[0] for r in rows], np.int64), [r[1] for r in rows]

    def all(self) -> Collected:
        """Every drawing, held and rejected ones too, oldest first. The whole table: not for a page view."""
        return self._select("ORDER BY id")

    def training_set(self) -> TrainingSet:
        """The drawings training may use: every one not held or rejected, oldest first (one snapshot).

        What training and `python -m mnistcore train --with-lab-drawings` read. Its `record`
        belongs in the trained model's info.
        """
        with self._database() as db:
            rows = db.execute(f"SELECT id, created_at, image, label FROM drawings WHERE {_USABLE_SQL} ORDER BY id"
                              ).fetchall()
        images = np.frombuffer(b"".join(r[2] for r in rows), np.uint8).reshape(-1, 28, 28).copy()
        return TrainingSet(images, np.array([r[3] for r in rows], np.uint8),
                           up_to_id=int(rows[-1][0]) if rows else 0, newest=rows[-1][1] if rows else None,
                           not_digits=self.not_digits())

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
        # Digits only: a drawing said not to be one has no digit to be read right or wrong.
        return self._select("WHERE id > ? AND id <= ? AND not_digit = 0 ORDER BY id LIMIT ?",
                            (int(after), int(up_to), int(limit)))

    def not_digits(self) -> np.ndarray:
        """(n, 28, 28) uint8: the drawings visitors said are not digits (not held or rejected), oldest first."""
        with self._database() as db:
            rows = db.execute("SELECT image FROM drawings WHERE not_digit = 1 AND status IN ('ok', 'accepted') "
                              "ORDER BY id").fetchall()
        return np.frombuffer(b"".join(r[0] for r in rows), np.uint8).reshape(-1, 28, 28).copy()

    def rows(self, ids) -> Collected:
        """The drawings with these ids, in the order given (a page of a gallery); KeyError for a missing one."""
        ids = [int(i) for i in np.asarray(ids, np.int64).ravel()]
        parts = [self._select(f"WHERE id IN ({','.join('?' * len(part))})", tuple(part))
                 for part in (ids[start : start + _IDS_PER_QUERY]  # SQLite limits a query's parameters
                              for start in range(0, len(ids), _IDS_PER_QUERY))]
        found = concat(parts) if parts else collected([])
        position = {int(i): k for k, i in enumerate(found.ids)}
        missing = [i for i in ids if i not in position]
        if missing:
            raise KeyError(f"no lab drawing with id {missing[0]} in {self.path}")
        return take(found, [position[i] for i in ids])

    def newest(self, count: int, up_to: int | None = None) -> Collected:
        """The newest `count` usable drawings (not held or rejected) with id <= `up_to` (all, when
        there are fewer), oldest first: what downloads hold."""
        for name, value in (("count", count), ("up_to", up_to)):
            if value is not None and not (isinstance(value, (int, np.integer)) and value >= 0):
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        up_to = up_to if up_to is not None else _MAX_ID
        return self._select(f"WHERE id IN (SELECT id FROM drawings WHERE id <= ? AND {_USABLE_SQL} "
                            "ORDER BY id DESC LIMIT ?) ORDER BY id", (int(up_to), int(count)))

    def usable_count(self, up_to: int | None = None) -> int:
        """How many drawings (with id <= `up_to`) are not held or rejected."""
        up_to = up_to if up_to is not None else _MAX_ID
        with self._database() as db:
            return int(db.execute(f"SELECT COUNT(*) FROM drawings WHERE id <= ? AND {_USABLE_SQL}",
                                  (int(up_to),)).fetchone()[0])

    def _select(self, where: str, parameters: tuple = ()) -> Collected:
        with self._database() as db:
            rows = db.execute(f"SELECT {COLUMNS} FROM drawings {where}", parameters).fetchall()
        return collected(rows)

    # ------------------------------------------------------------------ downloads

    def download(self, kind: str) -> Download:
        """The newest `download_rows` usable drawings as a "csv" or "npz" file, for the download buttons.

        Made once per version of the collection and shared by every visitor: a thousand clicks
        cost one build, and a new build comes only after a drawing has been added, undone or reviewed.
        """
        check_kind(kind)
        version = self.version()

        def build() -> Download:
            # The rows of this version only, even if more have been added since it was read.
            rows = self.newest(self.download_rows, up_to=version.last_id)
            return Download(kind, downloads.file_bytes(kind, rows), len(rows), version,
                            self.usable_count(up_to=version.last_id))

        return self._downloads.get(kind, version, build)


_MAX_ID = 2**63 - 1      # SQLite's largest id: "no upper bound"
_IDS_PER_QUERY = 500     # well under SQLite's limit on the parameters of one statement


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _version(db: sqlite3.Connection) -> Version:
    count, last_id, changes = db.execute(
        "SELECT (SELECT COUNT(*) FROM drawings), (SELECT MAX(id) FROM drawings),"
        " (SELECT value FROM counters WHERE name = 'changes')").fetchone()
    return Version(int(count), int(last_id or 0), int(changes or 0))


def _count_change(db: sqlite3.Connection) -> None:
    """One more undo or review decision (inside the transaction that makes it)."""
    db.execute("INSERT INTO counters (name, value) VALUES ('changes', 1) "
               "ON CONFLICT (name) DO UPDATE SET value = value + 1")


def _check_visitor(visitor, allow_none: bool = False) -> None:
    # The message gives the key's type and length, not the key: it may be logged or shown.
    if visitor is None and allow_none:
        return
    if not (isinstance(visitor, str) and VISITOR_KEY.fullmatch(visitor)):
        length = f" of {len(visitor)} characters" if isinstance(visitor, str) else ""
        raise ValueError(f"a visitor key is 8-64 letters, digits, - or _ (a hash of the visitor's token), "
                         f"got a {type(visitor).__name__}{length}")


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
