"""The lab's shared state in PostgreSQL, for several machines serving one lab
(config.database_url()): the same interfaces as the SQLite back ends beside them, one pool of
connections per database, and a schema with versions (`schema.upgrade`)."""
from __future__ import annotations

import threading

_pools: dict[str, object] = {}
_lock = threading.Lock()


def pool(url: str):
    """The process's connection pool for `url`, opened on first use, schema upgraded first."""
    with _lock:
        found = _pools.get(url)
        if found is None:
            from psycopg_pool import ConnectionPool

            from .schema import upgrade

            upgrade(url)
            # Autocommit: transactions are begun where they are needed, with `conn.transaction()`.
            found = ConnectionPool(url, min_size=1, max_size=8, kwargs={"autocommit": True}, open=True,
                                   name="mnistlab")
            _pools[url] = found
        return found


def close_all() -> None:
    """Close the process's pools (a test's server about to stop)."""
    with _lock:
        found = list(_pools.values())
        _pools.clear()
    for each in found:
        each.close()
