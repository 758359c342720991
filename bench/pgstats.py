"""A throwaway PostgreSQL for benchmarks (tests/pgserver.py) that counts every statement the lab sends
(pg_stat_statements): what one drawing costs in round trips to the database."""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
COUNTING = ("shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all",
            "pg_stat_statements.max=1000")


@contextlib.contextmanager
def lab_database() -> Iterator[str]:
    """A new lab database on a throwaway server that counts statements; yields its URL."""
    sys.path.insert(0, str(PROJECT / "tests"))
    import pgserver

    reason = pgserver.missing_reason()
    if reason:
        sys.exit(f"--postgres: {reason}")
    with pgserver.postgres_server(COUNTING) as server:
        url = pgserver.fresh_database(server)
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE EXTENSION pg_stat_statements")
        yield url


def reset(url: str) -> None:
    """Forget the statements counted so far."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("SELECT pg_stat_statements_reset()")


def counted(url: str) -> list[tuple[int, float, str]]:
    """(calls, total ms, statement) of every statement since `reset`, the most called first; the
    counting's own statements left out. BEGIN and COMMIT count: each is a round trip."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute("SELECT calls, total_exec_time, query FROM pg_stat_statements "
                          "WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC").fetchall()
    return [(calls, ms, " ".join(query.split())) for calls, ms, query in rows]


def report(url: str, drawings: int, top: int = 12) -> str:
    """The statements per drawing since `reset`, in all and the most called."""
    rows = counted(url)
    lines = [f"PostgreSQL: {sum(r[0] for r in rows) / drawings:.2f} statements per drawing "
             f"({sum(r[1] for r in rows) / drawings:.2f} ms of the server's time per drawing)"]
    lines += [f"  {calls / drawings:6.2f}  {query[:110]}" for calls, _, query in rows[:top]]
    return "\n".join(lines)
