"""The lab's tables in PostgreSQL, with versions: each step of MIGRATIONS brings a database from
one version to the next, and `upgrade` applies those it lacks, one machine at a time."""
from __future__ import annotations

LOCK_KEY = 27_0001  # the advisory lock that keeps two machines from upgrading at once

# Version n is the database after MIGRATIONS[:n]. Only ever append: a database in the field is at
# some earlier version and is brought forward by the steps after it.
MIGRATIONS = [
    # 1: the training slot's board (runs in the order they were added; which process is alive),
    # and the budgets' events.
    """
    CREATE TABLE runs (seq BIGSERIAL, id TEXT PRIMARY KEY, row JSONB NOT NULL);
    CREATE TABLE processes (id TEXT PRIMARY KEY, seen DOUBLE PRECISION NOT NULL);
    CREATE TABLE board_version (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), version BIGINT NOT NULL);
    INSERT INTO board_version VALUES (TRUE, 0);
    CREATE TABLE limit_events (name TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
                               at DOUBLE PRECISION NOT NULL);
    CREATE INDEX limit_events_by_key ON limit_events (name, kind, key, at);
    """,
    # 2: the model store: every run's weights, size-checked bytes, and the live model's name.
    """
    CREATE TABLE models (name TEXT PRIMARY KEY, body BYTEA NOT NULL, size BIGINT NOT NULL,
                         saved TIMESTAMPTZ NOT NULL DEFAULT now(), CHECK (octet_length(body) = size));
    CREATE TABLE live (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), name TEXT NOT NULL,
                       changed TIMESTAMPTZ NOT NULL DEFAULT now());
    """,
    # 3: the lab's drawings (feedback.FeedbackStore's columns, ids in the order they were added) and
    # the count of undos and reviews.
    """
    CREATE TABLE drawings (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        created_at TEXT NOT NULL, image BYTEA NOT NULL CHECK (octet_length(image) = 784),
        raw_height INTEGER NOT NULL, raw_width INTEGER NOT NULL,
        label SMALLINT NOT NULL CHECK (label BETWEEN 0 AND 9),
        predicted SMALLINT NOT NULL CHECK (predicted BETWEEN 0 AND 9),
        confidence DOUBLE PRECISION NOT NULL, model TEXT NOT NULL, visitor TEXT,
        status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'held', 'accepted', 'rejected')),
        label_probability DOUBLE PRECISION,
        not_digit INTEGER NOT NULL DEFAULT 0 CHECK (not_digit IN (0, 1)));
    CREATE INDEX drawings_by_label ON drawings (label);
    CREATE INDEX drawings_by_status ON drawings (status, id);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
    """,
    # 4: the class board (classroom.ClassBoard's entries, each with its model's file, size-checked)
    # and its version, which open pages compare.
    """
    CREATE TABLE class_models (
        run_id TEXT PRIMARY KEY CHECK (run_id ~ '^[0-9a-f]{12}$'), owner TEXT NOT NULL, label TEXT NOT NULL,
        recipe TEXT NOT NULL, test_accuracy DOUBLE PRECISION NOT NULL, drawings_accuracy DOUBLE PRECISION,
        drawings INTEGER NOT NULL, trained_at TEXT NOT NULL, file TEXT NOT NULL,
        body BYTEA NOT NULL, size BIGINT NOT NULL, CHECK (octet_length(body) = size));
    CREATE INDEX class_models_by_time ON class_models (trained_at);
    CREATE TABLE class_version (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), version BIGINT NOT NULL);
    INSERT INTO class_version VALUES (TRUE, 0);
    """,
    # 5: a budget's count and record in one round trip (limits.PgSharedRateLimit): the seconds to
    # wait before one more event under every (kind, key); `take` records it when that is 0, holding
    # each key's lock (the same locks, in the same order, as version 4's code) between the two.
    """
    CREATE FUNCTION lab_limit_wait(p_name TEXT, p_kinds TEXT[], p_keys TEXT[], p_counts INT[],
                                   p_seconds DOUBLE PRECISION, p_now DOUBLE PRECISION)
    RETURNS DOUBLE PRECISION LANGUAGE plpgsql AS $$
    DECLARE
        wait DOUBLE PRECISION := 0;
        oldest DOUBLE PRECISION;
    BEGIN
        DELETE FROM limit_events WHERE name = p_name AND at <= p_now - p_seconds;
        FOR i IN 1 .. coalesce(array_length(p_kinds, 1), 0) LOOP
            SELECT min(at) INTO oldest FROM (
                SELECT at FROM limit_events WHERE name = p_name AND kind = p_kinds[i] AND key = p_keys[i]
                ORDER BY at DESC LIMIT p_counts[i]) AS newest
            HAVING count(*) >= p_counts[i];
            IF oldest IS NOT NULL THEN
                wait := greatest(wait, oldest + p_seconds - p_now);
            END IF;
        END LOOP;
        RETURN wait;
    END $$;
    CREATE FUNCTION lab_limit_take(p_name TEXT, p_kinds TEXT[], p_keys TEXT[], p_counts INT[],
                                   p_seconds DOUBLE PRECISION, p_now DOUBLE PRECISION)
    RETURNS DOUBLE PRECISION LANGUAGE plpgsql AS $$
    DECLARE
        each RECORD;
        wait DOUBLE PRECISION;
    BEGIN
        FOR each IN SELECT kind, key FROM unnest(p_kinds, p_keys) AS k(kind, key) ORDER BY kind LOOP
            PERFORM pg_advisory_xact_lock(hashtext(p_name || chr(31) || each.kind || chr(31) || each.key));
        END LOOP;
        wait := lab_limit_wait(p_name, p_kinds, p_keys, p_counts, p_seconds, p_now);
        IF wait <= 0 THEN
            INSERT INTO limit_events SELECT p_name, kind, key, p_now FROM unnest(p_kinds, p_keys) AS k(kind, key);
        END IF;
        RETURN greatest(wait, 0);
    END $$;
    """,
    # 6: the number of drawings, kept by triggers: counting a full collection row by row took a few
    # ms on every add (under the lock that keeps the cap) and every version read.
    """
    CREATE TABLE drawing_count (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), n BIGINT NOT NULL);
    INSERT INTO drawing_count SELECT TRUE, count(*) FROM drawings;
    CREATE FUNCTION lab_count_drawings() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE drawing_count SET n = n + 1;
        ELSIF TG_OP = 'DELETE' THEN
            UPDATE drawing_count SET n = n - 1;
        ELSE
            UPDATE drawing_count SET n = 0;  -- TRUNCATE
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER drawings_counted AFTER INSERT OR DELETE ON drawings
        FOR EACH ROW EXECUTE FUNCTION lab_count_drawings();
    CREATE TRIGGER drawings_emptied AFTER TRUNCATE ON drawings
        FOR EACH STATEMENT EXECUTE FUNCTION lab_count_drawings();
    """,
    # 7: a class model's training settings (classroom.ClassModel.settings), so each visitor reads its
    # recipe in their own language; NULL for the models added before.
    """
    ALTER TABLE class_models ADD COLUMN settings JSONB;
    """,
]
VERSION = len(MIGRATIONS)


def version(db) -> int:
    """The version of the database on connection `db` (0: empty)."""
    found = db.execute("SELECT to_regclass('schema_version')").fetchone()[0]
    return 0 if found is None else db.execute("SELECT version FROM schema_version").fetchone()[0]


def upgrade(url: str, to: int = VERSION) -> tuple[int, int]:
    """Bring the database at `url` to version `to`; returns (version before, version after)."""
    import psycopg

    if not 0 <= to <= VERSION:
        raise ValueError(f"no schema version {to!r}; this code knows 0 to {VERSION}")
    with psycopg.connect(url, autocommit=True) as db:
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (one BOOLEAN PRIMARY KEY DEFAULT TRUE "
                       "CHECK (one), version INT NOT NULL)")
            db.execute("INSERT INTO schema_version VALUES (TRUE, 0) ON CONFLICT DO NOTHING")
            before = version(db)
            if before > VERSION:
                raise RuntimeError(f"the database is at schema version {before}, newer than this code's {VERSION}")
            for step in range(before, to):
                db.execute(MIGRATIONS[step])
            db.execute("UPDATE schema_version SET version = %s", (max(before, to),))
        return before, max(before, to)
