"""The model store with PostgreSQL: machines with their own folders share one live model and every
run through the database (a real server), and hear of a new live model by NOTIFY."""
import json
import threading

import numpy as np
import psycopg
import pytest

from mnistcore.lab.pg import cache as pg_cache, store as pg_store
from mnistcore.lab.pg.store import PgModelStore
from mnistcore.lab.store import DEFAULT_NAME
from sitetools import tiny_model, weights_copy


@pytest.fixture(scope="module")
def model(small_mnist):
    return tiny_model(small_mnist, hidden=16, samples=500, seed=1)


def machine(url, tmp_path, small_mnist, name, **kwargs):
    """A store as one machine has it: its own folder (the shipped default, no runs), its own signal."""
    folder = weights_copy(tmp_path / name, small_mnist)
    return PgModelStore(url, folder, signal_path=tmp_path / f"{name}-live.json", **kwargs)


def signalled(path, name, timeout=30.0) -> bool:
    """Wait until the page signal at `path` names `name` (written by the store's listener thread)."""
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        try:
            if json.loads(path.read_text())["live"] == name:
                return True
        except (OSError, ValueError):
            pass
        pause.wait(0.02)
    return False


def test_a_publish_on_one_machine_is_announced_to_and_served_by_another(pg_url, tmp_path, small_mnist, model):
    a = machine(pg_url, tmp_path, small_mnist, "a")
    b = machine(pg_url, tmp_path, small_mnist, "b", check_every=3600)  # only the announcement can tell it
    try:
        assert b.live().is_default
        published = a.publish(model)
        assert not (b.runs_dir / published.name).exists()  # nothing is shared but the database
        assert signalled(tmp_path / "b-live.json", published.name)
        live = b.live()
        assert live.name == published.name and live.info == model.info
        np.testing.assert_array_equal(live.model.wih, model.wih)
        assert (b.runs_dir / published.name).read_bytes() == (a.runs_dir / published.name).read_bytes()  # cached
        assert [run.name for run in b.runs()] == [published.name, DEFAULT_NAME]
        a.make_live(DEFAULT_NAME)
        assert signalled(tmp_path / "b-live.json", DEFAULT_NAME) and b.live().is_default
    finally:
        a.close()
        b.close()


def test_runs_beyond_those_kept_leave_the_database(pg_url, tmp_path, small_mnist, model):
    store = machine(pg_url, tmp_path, small_mnist, "a", runs_kept=1)
    try:
        names = [store.publish(model).name for _ in range(3)]
        # The newest by name stays, and the live one (names in one second differ only by chance).
        kept = sorted({max(names), names[-1]})
        with psycopg.connect(pg_url) as db:
            assert sorted(n for (n,) in db.execute("SELECT name FROM models")) == kept
        assert sorted(p.name for p in store.runs_dir.iterdir()) == kept
    finally:
        store.close()


def test_model_sizes_are_checked_going_in_and_coming_out(pg_url, tmp_path, small_mnist, model, monkeypatch):
    a = machine(pg_url, tmp_path, small_mnist, "a")
    b = machine(pg_url, tmp_path, small_mnist, "b")
    try:
        name = a.publish(model).name
        size = (a.runs_dir / name).stat().st_size
        for module in (pg_store, pg_cache):  # the size a model may have, going in and coming out
            monkeypatch.setattr(module, "MAX_ARCHIVE_BYTES", size - 1)
        with pytest.raises(ValueError, match=f"has {size} bytes; expected {size}, at most {size - 1}"):
            b.path_of(name)
        assert not (b.runs_dir / name).exists()
        with pytest.raises(ValueError, match=f"more than {size - 1}"):
            a.publish(model)
        assert a.live().name == name  # the refused model did not go live
    finally:
        a.close()
        b.close()


def test_a_process_silent_for_an_hour_is_forgotten_at_the_next_beat(pg_url):
    from mnistcore.lab.pg.board import FORGOTTEN_SECONDS, PgRunBoard

    board = PgRunBoard(pg_url)
    board.beat("a")
    board.beat("b")
    assert board.alive(60) == {"a", "b"}
    with psycopg.connect(pg_url) as db:  # "a" said nothing for longer than FORGOTTEN_SECONDS
        db.execute("UPDATE processes SET seen = seen - %s WHERE id = 'a'", (FORGOTTEN_SECONDS + 1,))
    assert board.alive(2 * FORGOTTEN_SECONDS) == {"a", "b"}  # still listed, until someone beats
    board.beat("b")
    assert board.alive(2 * FORGOTTEN_SECONDS) == {"b"} and board.alive(60) == {"b"}
    board.beat("a")  # back again
    assert board.alive(60) == {"a", "b"}
    # At shutdown the process closes its pool while a slot's heartbeat thread may still beat: no error
    from psycopg_pool import ConnectionPool
    board._pool = ConnectionPool(pg_url, open=False)
    board.beat("a")
