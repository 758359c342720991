"""What the model store and the class board share in PostgreSQL: model files kept in the database
and cached on each machine, and the notices (LISTEN/NOTIFY) that tell a machine another one changed
something."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from ...files import atomic_write_bytes
from ...nets.file_format import MAX_ARCHIVE_BYTES

RECONNECT_SECONDS = 2.0  # the listener's wait before listening again after losing its connection

log = logging.getLogger("mnistlab")


def fetch_to_cache(pool, query: str, key: str, path: Path, what: str) -> Path:
    """`path`, written first from the (body, size) row `query` finds for `key` when this machine has
    no copy yet. FileNotFoundError when there is no such row; ValueError when its bytes are not the
    size it was stored with, or more than a model file may be."""
    if path.exists():
        return path
    with pool.connection() as db:
        row = db.execute(query, (key,)).fetchone()
    if row is None:
        raise FileNotFoundError(f"no {what} {key!r} in the lab's database")
    body, size = bytes(row[0]), row[1]
    if len(body) != size or size > MAX_ARCHIVE_BYTES:
        raise ValueError(f"the {what} {key!r} in the database has {len(body)} bytes; expected {size}, "
                         f"at most {MAX_ARCHIVE_BYTES}")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, body)
    return path


def listen(url: str, channel: str, closed: threading.Event, changed: Callable[[], None], what: str) -> None:
    """Call `changed` once connected and on every NOTIFY on `channel`, until `closed` is set; a lost
    connection is logged and made again (`changed` then covers what happened meanwhile)."""
    import psycopg

    while not closed.is_set():
        try:
            with psycopg.connect(url, autocommit=True) as db:
                db.execute(f"LISTEN {channel}")
                changed()
                while not closed.is_set():
                    if any(True for _ in db.notifies(timeout=1.0, stop_after=1)):
                        changed()
        except Exception:  # noqa: BLE001 - a lost connection: listen again; readers still ask the database
            log.warning("%s: lost the database's notifications; listening again", what, exc_info=True)
            closed.wait(RECONNECT_SECONDS)
