"""classroom.ClassBoard's interface with the board in PostgreSQL: one class board for every machine
of the lab. Each entry's model file is in the database (size-checked as the model store's runs);
each machine keeps the files it has loaded in its own folder (a cache). Every change is NOTIFY'd,
and each machine, listening, rewrites its signal file, so pages open there redraw as on the machine
that added the model."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import astuple, fields
from pathlib import Path

from psycopg.types.json import Jsonb

from ...nets.base import DigitModel
from ...nets.file_format import MAX_ARCHIVE_BYTES
from ..classroom import KEPT, ClassBoard, ClassModel
from . import pool
from .cache import fetch_to_cache, listen

CHANNEL = "lab_class"
COLUMNS = ", ".join(f.name for f in fields(ClassModel))
ADD_LOCK = 27_0004  # held while a model is added: the newest `kept` stay, across machines
CHECK_SECONDS = 1.0  # the longest a machine lists an older board (when a NOTIFY is lost on the way)

log = logging.getLogger("mnistlab")


def insert(db, entry: ClassModel, body: bytes) -> None:
    """Add `entry` with its model file's bytes to the class_models table (on connection `db`)."""
    values = (*astuple(entry)[:-1], None if entry.settings is None else Jsonb(entry.settings), body, len(body))
    db.execute(f"INSERT INTO class_models ({COLUMNS}, body, size) VALUES ({', '.join(['%s'] * len(values))})", values)


class PgClassBoard(ClassBoard):
    """The class board of the lab whose PostgreSQL database is at `url`; `folder`: this machine's cache."""

    def __init__(self, url: str, folder: str | Path, signal_path: str | Path | None = None, kept: int = KEPT,
                 listen: bool = True):
        super().__init__(folder, signal_path=signal_path, kept=kept)
        self.url = url
        self._pool = pool(url)
        self._cached: tuple[int, list[ClassModel]] | None = None
        self._checked = -CHECK_SECONDS  # when the database's version was last read (time.monotonic)
        self._asking = threading.Lock()  # held by the one thread reading the database's version
        self._closed = threading.Event()
        if listen:
            threading.Thread(target=self._listen, daemon=True, name="class-board-listen").start()

    def close(self) -> None:
        """Stop listening for changes (a test's board)."""
        self._closed.set()

    def version(self) -> str:
        with self._pool.connection() as db:
            return f"v{db.execute('SELECT version FROM class_version').fetchone()[0]}"

    def _read(self) -> list[ClassModel]:
        """Every entry. Draw reads the board on every drawing: the database is asked at most once
        a CHECK_SECONDS (at once after a NOTIFY of a change), and the rows only when its version moved."""
        cached, now = self._cached, time.monotonic()
        if cached is not None and now - self._checked < CHECK_SECONDS:
            return list(cached[1])
        if cached is not None and not self._asking.acquire(blocking=False):
            return list(cached[1])  # another thread is asking the database: a crowd's reruns do not all ask
        try:
            return self._reread(cached, now)
        finally:
            if cached is not None:
                self._asking.release()

    def _reread(self, cached: tuple[int, list[ClassModel]] | None, now: float) -> list[ClassModel]:
        with self._pool.connection() as db:
            version = db.execute("SELECT version FROM class_version").fetchone()[0]
            if cached is None or cached[0] != version:
                with db.transaction():  # the rows and their version, seen together
                    version = db.execute("SELECT version FROM class_version").fetchone()[0]
                    rows = db.execute(f"SELECT {COLUMNS} FROM class_models ORDER BY trained_at DESC").fetchall()
                cached = (version, [ClassModel(*row) for row in rows])
                self._cached = cached
        self._checked = now
        return list(cached[1])

    def _changed(self) -> None:
        """The board changed (here, or a NOTIFY from elsewhere): the next read asks the database."""
        self._checked = -CHECK_SECONDS
        self.write_signal()

    def _keep(self, entry: ClassModel, model: DigitModel) -> ClassModel:
        path = self.folder / entry.file
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)  # this machine's cache, and the bytes the database keeps
        body = path.read_bytes()
        if len(body) > MAX_ARCHIVE_BYTES:
            path.unlink()
            raise ValueError(f"run {entry.run_id}'s model file has {len(body)} bytes, more than {MAX_ARCHIVE_BYTES}")
        with self._pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (ADD_LOCK,))
            known = db.execute(f"SELECT {COLUMNS} FROM class_models WHERE run_id = %s", (entry.run_id,)).fetchone()
            if known is not None:
                return ClassModel(*known)
            insert(db, entry, body)
            gone = db.execute("DELETE FROM class_models WHERE run_id IN (SELECT run_id FROM class_models "
                              "ORDER BY trained_at DESC OFFSET %s) RETURNING file", (self.kept,)).fetchall()
            db.execute("UPDATE class_version SET version = version + 1")
            db.execute(f"NOTIFY {CHANNEL}")
        for (file,) in gone:  # other machines' caches keep theirs: the board no longer names them
            (self.folder / file).unlink(missing_ok=True)
        self._checked = -CHECK_SECONDS
        return entry

    def _file(self, entry: ClassModel) -> Path:
        """`entry`'s model file in this machine's cache, fetched from the database the first time."""
        query = "SELECT body, size FROM class_models WHERE run_id = %s"
        try:
            return fetch_to_cache(self._pool, query, entry.run_id, self.folder / entry.file, "class board model")
        except FileNotFoundError as err:
            raise ValueError(f"no model of run {entry.run_id!r} is on the class board") from err

    def _listen(self) -> None:
        """Tell this machine's open pages (the signal file) of each model another machine adds."""
        listen(self.url, CHANNEL, self._closed, self._changed, "class board")
