"""feedback.FeedbackStore's interface with the drawings in PostgreSQL: one collection for every
machine of the lab. The store's own code runs unchanged on a connection that speaks its SQL
(`_Dialect`): the few phrases that are SQLite's own become PostgreSQL's."""
from __future__ import annotations

import re
from contextlib import contextmanager
from collections.abc import Iterator

import numpy as np

from .. import downloads
from ..downloads import DOWNLOAD_ROWS
from ..feedback import MAX_ROWS, FeedbackError, FeedbackStore
from . import pool

ADD_LOCK = 27_0003  # held while a drawing is counted and added: the cap holds across machines
_PASSWORD = re.compile(r"//([^:/@]+):[^@/]*@")
_ALL_COUNTED = re.compile(r"COUNT\(\*\) FROM drawings(?=\)|$)")  # every drawing counted, none filtered


class _Cursor:
    def __init__(self, cursor, returning: bool):
        self._cursor = cursor
        self.lastrowid = cursor.fetchone()[0] if returning else None
        self.rowcount = cursor.rowcount

    def fetchone(self):
        return self._cursor.fetchone()

    def fetchall(self):
        return self._cursor.fetchall()


class _Dialect:
    """A psycopg connection inside one transaction, taking the SQLite statements of FeedbackStore."""

    def __init__(self, db):
        self._db = db

    def execute(self, sql: str, parameters: tuple = ()) -> _Cursor:
        if sql.startswith("PRAGMA"):
            return _Cursor(self._db.execute("SELECT 1"), False)
        if sql == "BEGIN IMMEDIATE":  # SQLite's write lock, taken before counting
            sql, parameters = "SELECT pg_advisory_xact_lock(%s)", (ADD_LOCK,)
        elif sql == "BEGIN":  # a read of one moment: the first statement of the transaction
            sql = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
        else:
            sql = (_ALL_COUNTED.sub("n FROM drawing_count", sql)  # the kept count (schema version 6)
                   .replace(" INDEXED BY drawings_by_status", "")
                   .replace("LIMIT ?", "LIMIT NULLIF(?, -1)")  # SQLite's -1: no limit
                   .replace("SET value = value + 1", "SET value = counters.value + 1")
                   .replace("?", "%s"))
        returning = sql.startswith("INSERT INTO drawings")
        if returning:
            sql += " RETURNING id"
        return _Cursor(self._db.execute(sql, parameters), returning)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        """The transaction is the caller's (`_database`)."""


class PgFeedbackStore(FeedbackStore):
    """The lab drawings in the PostgreSQL database at `url` (schema: mnistcore.lab.pg.schema)."""

    def __init__(self, url: str, max_rows: int = MAX_ROWS, download_rows: int = DOWNLOAD_ROWS):
        for name, value in (("max_rows", max_rows), ("download_rows", download_rows)):
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        self.max_rows, self.download_rows = int(max_rows), int(download_rows)
        self.path = _PASSWORD.sub(r"//\1@", url)  # what messages name: never the password
        self._pool = pool(url)
        self._downloads = downloads.Downloads()

    @contextmanager
    def _database(self, write: bool = False) -> Iterator[_Dialect]:
        import psycopg

        try:
            with self._pool.connection() as db, db.transaction():
                yield _Dialect(db)
        except psycopg.Error as err:
            raise FeedbackError(f"the lab drawings database {self.path} cannot be used: {err}") from err
