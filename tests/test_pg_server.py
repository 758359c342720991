"""The test fixture's PostgreSQL: a real server, one fresh database per test."""
import psycopg


def test_a_fresh_database_is_empty_and_private(pg_url, pg_server):
    with psycopg.connect(pg_url, autocommit=True) as db:
        assert db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
        db.execute("CREATE TABLE mine (x int)")
        assert db.execute("SELECT current_database()").fetchone()[0] != "postgres"
    with psycopg.connect(pg_server, autocommit=True) as db:
        assert db.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'mine'").fetchone()[0] == 0
