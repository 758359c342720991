"""The model store (store.ModelStore) with its shared part in PostgreSQL: the live model's name and
every run's weights live in the database, so machines need no shared file system; each machine
keeps the runs it has used in its own runs/ folder (a cache), and the shipped default its own.

A change of the live model is announced with NOTIFY: every other machine's store, listening,
looks at the database on its next `live()` instead of within `check_every`, and rewrites its page
signal, so the pages open there rerun with the new model."""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

from ...nets.file_format import MAX_ARCHIVE_BYTES
from ..store import DEFAULT_NAME, ModelStore
from . import pool
from .cache import fetch_to_cache, listen

log = logging.getLogger("mnistlab")

CHANNEL = "lab_live"          # NOTIFY'd with the new live model's name
CHANGE_LOCK = 27_0002         # the advisory lock held while the live model changes (any machine)


class PgModelStore(ModelStore):
    """A ModelStore whose runs and live record are in the PostgreSQL database at `url`."""

    def __init__(self, url: str, weights_dir: str | Path, *args, **kwargs):
        self.url = url
        self._pool = pool(url)
        self._closed = threading.Event()
        super().__init__(weights_dir, *args, **kwargs)
        threading.Thread(target=self._listen, daemon=True, name="model-store-listen").start()

    def close(self) -> None:
        """Stop listening for changes (a test's store)."""
        self._closed.set()

    # ------------------------------------------------------------------ the live record

    def _has_live_record(self) -> bool:
        with self._pool.connection() as db:
            return db.execute("SELECT 1 FROM live").fetchone() is not None

    def _read_live_file(self) -> str:
        with self._pool.connection() as db:
            row = db.execute("SELECT name FROM live").fetchone()
        if row is None:
            raise ValueError("the database names no live model")
        return row[0]

    def _write_live_file(self, name: str) -> None:
        with self._pool.connection() as db, db.transaction():
            db.execute("INSERT INTO live (one, name, changed) VALUES (TRUE, %s, clock_timestamp()) "
                       "ON CONFLICT (one) DO UPDATE SET name = excluded.name, changed = excluded.changed", (name,))
            db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, name))
        self._seen = self._live_file_identity()  # our own change: nothing to notice

    def _live_file_identity(self) -> tuple | None:
        with self._pool.connection() as db:
            row = db.execute("SELECT name, changed FROM live").fetchone()
        return tuple(row) if row is not None else None

    @contextlib.contextmanager
    def _across_processes(self):
        """One change of the live model at a time on every machine of the lab."""
        with self._pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (CHANGE_LOCK,))
            yield

    # ------------------------------------------------------------------ the runs

    def _run_names(self) -> list[str]:
        with self._pool.connection() as db:
            return [name for (name,) in db.execute("SELECT name FROM models ORDER BY name DESC")]

    def _saved(self, name: str) -> None:
        body = (self.runs_dir / name).read_bytes()
        if len(body) > MAX_ARCHIVE_BYTES:
            (self.runs_dir / name).unlink()
            raise ValueError(f"the model file {name} has {len(body)} bytes, more than {MAX_ARCHIVE_BYTES}")
        with self._pool.connection() as db:
            db.execute("INSERT INTO models (name, body, size) VALUES (%s, %s, %s)", (name, body, len(body)))

    def _remove_run(self, name: str) -> None:
        with self._pool.connection() as db:
            db.execute("DELETE FROM models WHERE name = %s", (name,))
        (self.runs_dir / name).unlink(missing_ok=True)

    def path_of(self, name: str) -> Path:
        """The run's file in this machine's cache, fetched from the database the first time."""
        path = super().path_of(name)
        if name == DEFAULT_NAME:
            return path
        return fetch_to_cache(self._pool, "SELECT body, size FROM models WHERE name = %s", name, path, "run")

    # ------------------------------------------------------------------ changes made on other machines

    def _listen(self) -> None:
        """Notice each model another machine makes live as soon as it says so (LISTEN)."""
        listen(self.url, CHANNEL, self._closed, self.refresh, "store")

    def refresh(self) -> None:
        """The next `live()` looks at the database at once; this machine's open pages are told (the
        signal file), and their rerun loads the model, as a visitor's would."""
        with self._lock:
            self._checked = time.monotonic() - self.check_every - 1  # look now, not at the next second
        self._write_signal()
