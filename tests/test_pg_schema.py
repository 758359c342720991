"""The lab's PostgreSQL schema: created in an empty database, upgraded from the previous version
with what it holds kept, by the project itself (`python -m mnistcore db upgrade`)."""
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from mnistcore.lab import config
from mnistcore.lab.pg import schema

PROJECT = Path(__file__).resolve().parent.parent


# What each version adds: tables, (from version 5) functions, and (from version 7) columns of older tables.
ADDED = {1: {"runs", "processes", "board_version", "limit_events"}, 2: {"models", "live"},
         3: {"drawings", "counters"}, 4: {"class_models", "class_version"}, 5: {"lab_limit_wait()", "lab_limit_take()"},
         6: {"drawing_count", "lab_count_drawings()"}, 7: {"class_models.settings"}}


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as db:
        return {name for (name,) in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def objects(url: str, since: set[str] = frozenset()) -> set[str]:
    """The tables, the functions (named with "()"), and the columns ("table.column") of the tables in
    `since`, of the database at `url`."""
    with psycopg.connect(url) as db:
        functions = {name + "()" for (name,) in db.execute(
            "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")}
        columns = {f"{table}.{column}" for table, column in db.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")
            if table in since}
    return tables(url) | functions | columns


def test_an_empty_database_is_brought_to_the_newest_version(pg_url):
    assert schema.upgrade(pg_url) == (0, schema.VERSION)
    expected = {"runs", "processes", "limit_events", "models", "live", "drawings", "counters", "class_models",
                "class_version", "schema_version"}
    assert expected <= tables(pg_url) and set().union(*ADDED.values()) <= objects(pg_url, since=tables(pg_url))
    assert schema.upgrade(pg_url) == (schema.VERSION, schema.VERSION)  # a second start changes nothing


def test_a_database_of_the_previous_version_is_upgraded_keeping_its_rows(pg_url):
    assert schema.upgrade(pg_url, to=schema.VERSION - 1) == (0, schema.VERSION - 1)
    assert ADDED[schema.VERSION].isdisjoint(objects(pg_url, since=tables(pg_url)))
    assert {"runs", "models", "drawings"} <= tables(pg_url)
    with psycopg.connect(pg_url) as db:
        db.execute("""INSERT INTO runs (id, row) VALUES ('r1', '{"state": "running"}')""")
        db.execute("INSERT INTO counters VALUES ('undone', 3)")
        db.execute("INSERT INTO limit_events VALUES ('drawings', 'device', 'd1', 1000.0)")
        for label in (3, 4):
            db.execute("INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence,"
                       " model) VALUES ('t', %s, 1, 1, %s, 1, 0.5, 'm')", (bytes(784), label))
    assert schema.upgrade(pg_url) == (schema.VERSION - 1, schema.VERSION)
    with psycopg.connect(pg_url) as db:
        assert db.execute("SELECT row FROM runs WHERE id = 'r1'").fetchone()[0] == {"state": "running"}
        assert db.execute("SELECT value FROM counters WHERE name = 'undone'").fetchone()[0] == 3
        assert db.execute("SELECT version FROM schema_version").fetchone()[0] == schema.VERSION
        assert db.execute("SELECT version FROM class_version").fetchone()[0] == 0
        # The event recorded before the upgrade counts in the new function: one a minute, 30 s later.
        assert db.execute("SELECT lab_limit_wait('drawings', ARRAY['device'], ARRAY['d1'], ARRAY[1], 60, 1030)"
                          ).fetchone()[0] == 30
        # The drawings there before are counted, and so are those added and removed after.
        assert db.execute("SELECT n FROM drawing_count").fetchone()[0] == 2
        db.execute("DELETE FROM drawings WHERE label = 3")
        db.execute("INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence,"
                   " model) SELECT 't', %s, 1, 1, g, 1, 0.5, 'm' FROM generate_series(5, 7) g", (bytes(784),))
        assert db.execute("SELECT n FROM drawing_count").fetchone()[0] == 4 == \
            db.execute("SELECT count(*) FROM drawings").fetchone()[0]
        db.execute("TRUNCATE drawings")
        assert db.execute("SELECT n FROM drawing_count").fetchone()[0] == 0
    assert ADDED[schema.VERSION] <= objects(pg_url, since=tables(pg_url))


def test_each_version_adds_its_own_on_the_one_before(pg_url):
    assert sorted(ADDED) == list(range(1, schema.VERSION + 1))
    for version in range(1, schema.VERSION + 1):
        before = objects(pg_url, since=tables(pg_url))
        assert schema.upgrade(pg_url, to=version) == (version - 1, version)
        assert objects(pg_url, since=before) - before - {"schema_version"} == ADDED[version]


def test_a_newer_database_is_refused(pg_url):
    schema.upgrade(pg_url)
    with psycopg.connect(pg_url) as db:
        db.execute("UPDATE schema_version SET version = %s", (schema.VERSION + 1,))
    with pytest.raises(RuntimeError, match=f"version {schema.VERSION + 1}, newer"):
        schema.upgrade(pg_url)
    with pytest.raises(ValueError, match="no schema version 99"):
        schema.upgrade(pg_url, to=99)


def test_the_command_line_upgrades_the_database_it_is_given(pg_url):
    env = {**os.environ, "PYTHONPATH": str(PROJECT), config.DATABASE_ENV: pg_url}
    done = subprocess.run([sys.executable, "-m", "mnistcore", "db", "upgrade"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"schema at version {schema.VERSION} (was 0)" in done.stdout
    assert "runs" in tables(pg_url)
    env.pop(config.DATABASE_ENV)
    refused = subprocess.run([sys.executable, "-m", "mnistcore", "db", "upgrade"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 2 and config.DATABASE_ENV in refused.stderr


def test_the_setting_takes_postgresql_addresses_only(monkeypatch):
    monkeypatch.delenv(config.DATABASE_ENV, raising=False)
    assert config.database_url() is None
    monkeypatch.setenv(config.DATABASE_ENV, " postgresql://lab@db.example/lab ")
    assert config.database_url() == "postgresql://lab@db.example/lab"
    monkeypatch.setenv(config.DATABASE_ENV, "mysql://secret@db.example/lab")
    with pytest.raises(ValueError, match="must be a postgresql:// address; got 'db.example/lab'"):
        config.database_url()
