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


def counted(url: str) -> list[tuple[int, float, bool, str]]:
    """(calls, total ms, sent by the lab, statement) of every statement since `reset`, the most called
    first; the counting's own left out. Sent by the lab (top level): a round trip each, BEGIN and
    COMMIT too; the others ran inside a function the lab called."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute("SELECT calls, total_exec_time, toplevel, query FROM pg_stat_statements "
                          "WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY toplevel DESC, calls DESC").fetchall()
    return [(calls, ms, toplevel, " ".join(query.split())) for calls, ms, toplevel, query in rows]


def report(url: str, drawings: int, top: int = 12) -> str:
    """Round trips and statements per drawing since `reset`, and the round trips most made."""
    rows = counted(url)
    sent = [row for row in rows if row[2]]
    lines = [f"PostgreSQL: {sum(r[0] for r in sent) / drawings:.2f} round trips per drawing, "
             f"{sum(r[0] for r in rows) / drawings:.2f} statements in all "
             f"({sum(r[1] for r in sent) / drawings:.2f} ms of the server's time)"]
    lines += [f"  {calls / drawings:6.2f}  {query[:110]}" for calls, _, _, query in sent[:top]]
    return "\n".join(lines)


def main() -> None:
    """What labelling one drawing costs in PostgreSQL: the budget's take, then the drawing's add,
    as the Draw page does them (ui.visitor.drawing_budget_problem, ui.labels)."""
    import argparse
    import time

    import numpy as np

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--drawings", type=int, default=200, help="drawings labelled (1-5000)")
    parser.add_argument("--held", type=int, default=19_000, help="drawings in the collection before (0-19000; "
                        "it keeps 20,000 at most)")
    args = parser.parse_args()
    if not 0 <= args.held <= 19_000:
        parser.error(f"--held must be from 0 to 19000; got {args.held}")
    if not 1 <= args.drawings <= 5000:
        parser.error(f"--drawings must be from 1 to 5000; got {args.drawings}")
    sys.path.insert(0, str(PROJECT))
    from mnistcore.lab.pg.feedback import PgFeedbackStore
    from mnistcore.lab.pg.limits import PgSharedRateLimit

    image = np.zeros((28, 28), np.uint8)
    with lab_database() as url:
        limit = PgSharedRateLimit(url, "drawings", {"device": 10**6, "address": 10**6}, 60.0)
        store = PgFeedbackStore(url)
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:  # a lab that has collected for a while
            db.execute("INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence, "
                       "model) SELECT 'earlier', %s, 280, 280, g %% 10, g %% 10, 0.9, 'm' "
                       "FROM generate_series(1, %s) g",
                       (bytes(784), args.held))
            db.execute("VACUUM ANALYZE drawings")
        for n in range(20):  # the pool's connections open, statements are prepared: not counted
            limit.take(device=f"warm {n}", address="room")
            store.add(image, label=n % 10, predicted=n % 10, confidence=0.9, model="m", raw_size=(280, 280))
        reset(url)
        started = time.perf_counter()
        for n in range(args.drawings):
            limit.take(device=f"browser {n % 30}", address="room")
            store.add(image, label=n % 10, predicted=n % 10, confidence=0.9, model="m", raw_size=(280, 280))
        seconds = time.perf_counter() - started
        print(f"{args.drawings} drawings labelled one after another, {args.held:,} held before: "
              f"{seconds / args.drawings * 1000:.2f} ms each (the budget's take and the add, this process and the "
              "database together)")
        print(report(url, args.drawings))


if __name__ == "__main__":
    main()
