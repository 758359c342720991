"""What the operator runs against the lab's PostgreSQL (`python -m mnistcore db ...`): upgrading
its schema, and moving a lab that lived in SQLite files on one machine into it."""
from __future__ import annotations

from collections.abc import Iterator

from .schema import VERSION, upgrade


def upgrade_report(url: str) -> Iterator[str]:
    before, after = upgrade(url)
    yield (f"schema at version {after} (was {before})" if before != after
           else f"schema already at version {after}, the newest this code knows ({VERSION})")


def import_sqlite(url: str) -> Iterator[str]:
    """Copy this machine's SQLite lab (config's paths) into the database at `url`."""
    from .sqlite_import import import_lab

    yield from upgrade_report(url)
    yield from import_lab(url)
