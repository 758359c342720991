"""What the server processes of one lab share about training: the runs board.

The training slot (`slot.py`) keeps its record of every run (who trains, who waits, heartbeats,
stop requests, progress, what came of each run) on a `RunBoard`, not in its own memory, so that
several server processes behind one proxy see one slot and one queue. Each run trains in the
process it was asked for in, once that process has won the slot on the board.

The board is deliberately small: rows are plain JSON-able dicts keyed by run id, kept in the
order they were added; `change()` hands out all of them under a write lock and writes back what
changed; `read()` is a snapshot. Which process is alive is a second, tiny table (`beat`,
`alive`). On one machine it is SQLite in WAL mode (many readers, one writer at a time, safe across
processes on a local disk). For several machines, mnistcore.lab.pg.board has the same methods over
PostgreSQL (MNISTLAB_DATABASE_URL); nothing else changes. SQLite must not be used on a network
file system.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

MEMORY = ":memory:"
BUSY_SECONDS = 10.0  # how long a write waits for another process's write before failing
FORGOTTEN_SECONDS = 3600  # processes not heard from for this long are taken off the list

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, row TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processes (id TEXT PRIMARY KEY, seen REAL NOT NULL);
"""


class RunBoard:
    """The runs of one lab's training slot, in SQLite: `path`, or in memory (one process only).

    Thread-safe: one connection, used under a lock. Rows are JSON-able dicts; do not change
    what `read()` returns (it is cached and shared until the board changes).
    """

    def __init__(self, path: str | Path = MEMORY):
        self.path = str(path)
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode (isolation_level=None): transactions are begun and ended here, by hand.
        self._db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None,
                                   check_same_thread=False)
        self._lock = threading.RLock()
        with self._lock:
            if self.path != MEMORY:
                self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
                # WAL stays consistent; a power cut may lose the last moment.
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        self._cached: tuple[int, dict[str, dict]] | None = None  # (data_version, rows) as last read or written

    @property
    def shared(self) -> bool:
        """Can other processes see this board?"""
        return self.path != MEMORY

    def read(self) -> Mapping[str, dict]:
        """Every row, in the order they were added. Cheap when nothing changed since the last call:
        SQLite's data_version says whether another connection has written in between."""
        with self._lock:
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            if self._cached is None or self._cached[0] != version:
                self._cached = (version, self._load())
            return self._cached[1]

    @contextlib.contextmanager
    def change(self) -> Iterator[dict[str, dict]]:
        """All rows, locked against every other writer (in any process) until the block ends.

        Change, add or delete rows in the dict handed out; on leaving the block they are written
        back in one transaction. An exception in the block writes nothing.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # the write lock now, so what is read stays true
            try:
                before = self._load()
                rows = {key: dict(value) for key, value in before.items()}
                yield rows
                for key in before.keys() - rows.keys():
                    self._db.execute("DELETE FROM runs WHERE id = ?", (key,))
                for key, row in rows.items():
                    if before.get(key) != row:
                        # An upsert keeps an existing row's rowid, and so its place in the order.
                        self._db.execute("INSERT INTO runs (id, row) VALUES (?, ?) "
                                         "ON CONFLICT(id) DO UPDATE SET row = excluded.row",
                                         (key, json.dumps(row)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            # Our own commit does not move data_version: remember what we wrote as the current state.
            version = self._db.execute("PRAGMA data_version").fetchone()[0]
            self._cached = (version, self._load())

    def beat(self, process: str) -> None:
        """`process` is alive now."""
        now = time.time()
        with self._lock:
            self._db.execute("INSERT INTO processes (id, seen) VALUES (?, ?) "
                             "ON CONFLICT(id) DO UPDATE SET seen = excluded.seen", (process, now))
            self._db.execute("DELETE FROM processes WHERE seen < ?", (now - FORGOTTEN_SECONDS,))

    def alive(self, seconds: float) -> set[str]:
        """The processes that have said they are alive within the last `seconds`."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM processes WHERE seen >= ?", (time.time() - seconds,))
            return {process for (process,) in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _load(self) -> dict[str, dict]:
        return {key: json.loads(row) for key, row in self._db.execute("SELECT id, row FROM runs ORDER BY rowid")}
