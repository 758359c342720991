"""The training slot's board (coordination.RunBoard's interface) in PostgreSQL: one slot and one
queue for every machine of the lab. `change` locks the runs table against every other writer;
`read` reloads only when the board's version moved; times of life are the server's clock, so
machines whose clocks differ still agree on who is silent."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping

from psycopg.types.json import Jsonb

from . import pool

FORGOTTEN_SECONDS = 3600  # processes not heard from for this long are taken off the list
NOW = "extract(epoch FROM clock_timestamp())"
CHANNEL = "lab_board"  # NOTIFY'd after every change, for whoever listens


class PgRunBoard:
    """The runs of one lab's training slot, in the PostgreSQL database at `url`. Thread-safe."""

    shared = True  # other machines see it

    def __init__(self, url: str):
        self.url = url
        self._pool = pool(url)
        self._lock = threading.Lock()
        # This process's writers take turns before taking a connection, so that they do not hold
        # the pool's connections while waiting for the board's lock.
        self._writing = threading.Lock()
        self._cached: tuple[int, dict[str, dict]] | None = None

    def read(self) -> Mapping[str, dict]:
        """Every row, in the order they were added; cheap while the board's version stands still."""
        with self._pool.connection() as db:
            version = db.execute("SELECT version FROM board_version").fetchone()[0]
            cached = self._cached
            if cached is None or cached[0] != version:
                with db.transaction():  # the rows and their version, seen together
                    version = db.execute("SELECT version FROM board_version").fetchone()[0]
                    cached = (version, self._load(db))
                with self._lock:
                    self._cached = cached
            return cached[1]

    @contextlib.contextmanager
    def change(self) -> Iterator[dict[str, dict]]:
        """All rows, locked against every other writer on any machine until the block ends; what
        changed is written back in one transaction. An exception in the block writes nothing."""
        with self._writing, self._pool.connection() as db, db.transaction():
            version = db.execute("UPDATE board_version SET version = version + 1 RETURNING version").fetchone()[0]
            before = self._load(db)  # the UPDATE above holds the board's one row: writers take turns
            rows = {key: dict(value) for key, value in before.items()}
            yield rows
            for key in before.keys() - rows.keys():
                db.execute("DELETE FROM runs WHERE id = %s", (key,))
            for key, row in rows.items():
                if before.get(key) != row:
                    # An upsert keeps an existing row's seq, and so its place in the order.
                    db.execute("INSERT INTO runs (id, row) VALUES (%s, %s) "
                               "ON CONFLICT (id) DO UPDATE SET row = excluded.row", (key, Jsonb(row)))
            db.execute(f"NOTIFY {CHANNEL}")
            loaded = self._load(db)
        with self._lock:
            self._cached = (version, loaded)

    def beat(self, process: str) -> None:
        """`process` is alive now (nothing once the process has closed its pool: it is stopping)."""
        if self._pool.closed:
            return
        with self._pool.connection() as db:  # one statement, one round trip: the long silent go too
            db.execute(f"WITH forgotten AS (DELETE FROM processes WHERE seen < {NOW} - %s AND id <> %s) "
                       f"INSERT INTO processes (id, seen) VALUES (%s, {NOW}) "
                       "ON CONFLICT (id) DO UPDATE SET seen = excluded.seen", (FORGOTTEN_SECONDS, process, process))

    def alive(self, seconds: float) -> set[str]:
        """The processes that have said they are alive within the last `seconds`."""
        with self._pool.connection() as db:
            rows = db.execute(f"SELECT id FROM processes WHERE seen >= {NOW} - %s", (seconds,)).fetchall()
            return {process for (process,) in rows}

    def close(self) -> None:
        """The pool is the process's, shared with the lab's other tables: it stays open."""

    @staticmethod
    def _load(db) -> dict[str, dict]:
        return {key: row for key, row in db.execute("SELECT id, row FROM runs ORDER BY seq")}
