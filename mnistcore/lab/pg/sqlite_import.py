"""Moving a lab that lived on one machine (SQLite files and weights/) into PostgreSQL: its drawings
with their ids, labels, reviews and counters, every published run's file, which model is live, and
the class board with its models. The slot's board and the budgets are not moved: they only hold
the present moment."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from ...nets.file_format import MAX_ARCHIVE_BYTES
from .. import config
from ..classroom import ClassBoard
from ..feedback import FeedbackStore
from ..store import RUN_NAME

COLUMNS = ("id, created_at, image, raw_height, raw_width, label, predicted, confidence, model, visitor, status, "
           "label_probability, not_digit")


def import_lab(url: str, lab_db: Path | None = None, weights: Path | None = None) -> Iterator[str]:
    """Copy the lab at `lab_db` (config's lab.db) and `weights` (config's weights folder) into the
    (upgraded, empty) database at `url`; yields what it did. ValueError when the database already
    holds drawings or runs: an import is done once, into a new lab."""
    import psycopg

    lab_db = Path(lab_db) if lab_db is not None else config.absolute(config.feedback_db_path())
    weights = Path(weights) if weights is not None else config.weights_dir()
    with psycopg.connect(url) as db:  # one transaction: all of it, or nothing
        held = db.execute("SELECT (SELECT count(*) FROM drawings), (SELECT count(*) FROM models)").fetchone()
        if any(held):
            raise ValueError(f"the database already holds {held[0]} drawings and {held[1]} runs: "
                             "import into a new, empty lab database")
        yield from _drawings(db, lab_db)
        yield from _runs(db, weights)
        yield from _class_board(db, weights / "class")


def _drawings(db, lab_db: Path) -> Iterator[str]:
    if not lab_db.is_file():
        yield f"no drawings database at {lab_db}: no drawings imported"
        return
    FeedbackStore(lab_db)  # brings an older file's columns up to date first
    with closing(sqlite3.connect(lab_db)) as lab:
        rows = lab.execute(f"SELECT {COLUMNS} FROM drawings ORDER BY id").fetchall()
        counters = lab.execute("SELECT name, value FROM counters").fetchall()
    with db.cursor() as cursor:
        cursor.executemany(f"INSERT INTO drawings ({COLUMNS}) OVERRIDING SYSTEM VALUE VALUES "
                           f"({', '.join(['%s'] * 13)})", rows)
        cursor.executemany("INSERT INTO counters VALUES (%s, %s)", counters)
    # New drawings continue after the imported ids.
    db.execute("SELECT setval(pg_get_serial_sequence('drawings', 'id'), GREATEST(max(id), 1), max(id) IS NOT NULL)"
               " FROM drawings")
    yield f"imported {len(rows)} drawings from {lab_db}"


def _runs(db, weights: Path) -> Iterator[str]:
    runs = sorted(p for p in (weights / "runs").glob("*") if RUN_NAME.fullmatch(p.name)) \
        if (weights / "runs").is_dir() else []
    for path in runs:
        body = path.read_bytes()
        if len(body) > MAX_ARCHIVE_BYTES:
            raise ValueError(f"{path} has {len(body)} bytes, more than a model may ({MAX_ARCHIVE_BYTES})")
        db.execute("INSERT INTO models (name, body, size) VALUES (%s, %s, %s)", (path.name, body, len(body)))
    yield f"imported {len(runs)} published runs from {weights / 'runs'}"
    live_file = weights / "live.json"
    if live_file.is_file():
        name = json.loads(live_file.read_text(encoding="utf-8"))["live"]
        db.execute("INSERT INTO live (one, name) VALUES (TRUE, %s) ON CONFLICT (one) DO UPDATE SET name = %s",
                   (name, name))
        yield f"live model: {name}"


def _class_board(db, folder: Path) -> Iterator[str]:
    from .classroom import insert

    entries = ClassBoard(folder).entries()
    for entry in entries:
        body = (folder / entry.file).read_bytes()
        if len(body) > MAX_ARCHIVE_BYTES:
            raise ValueError(f"{folder / entry.file} has {len(body)} bytes, "
                             f"more than a model may ({MAX_ARCHIVE_BYTES})")
        insert(db, entry, body)
    if entries:
        db.execute("UPDATE class_version SET version = version + 1")
    yield f"imported {len(entries)} models of the class board from {folder}"
