"""The lab's handwriting store: transactions, concurrency, a crash mid-write, the CSV writer, its cap,
reading a page at a time, and shared, size-limited downloads."""
import datetime as dt
import io
import sqlite3
import subprocess
import sys
import threading
import textwrap
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from mnistcore.data import csv_bytes, export_csv, load_csv
from mnistcore.lab import downloads, feedback
import pgserver
from mnistcore.lab.pg.feedback import PgFeedbackStore
from mnistcore.lab.feedback import FeedbackError, FeedbackFull, FeedbackStore, Version, fingerprint

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgres"])
def make(request):
    """How a store is made, for each back end: FeedbackStore on an SQLite file, or PgFeedbackStore
    on a real PostgreSQL server, a fresh database for each file name a test gives."""
    if request.param == "sqlite":
        return FeedbackStore
    server, databases = request.getfixturevalue("pg_server"), {}

    def make(path, **kwargs):
        if path not in databases:
            databases[path] = pgserver.fresh_database(server)
        return PgFeedbackStore(databases[path], **kwargs)

    return make


def a_drawing(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((28, 28)).astype(np.float32)


def test_add_and_read_back(make, tmp_path):
    store = make(tmp_path / "lab.db")
    first = store.add(a_drawing(0), label=4, predicted=9, confidence=0.55, model="numpy m1", raw_size=(280, 280))
    second = store.add(a_drawing(1), label=7, predicted=7, confidence=0.98, model="keras m2", raw_size=(300, 200))
    assert second > first and store.count() == 2
    c = store.all()
    assert c.images.shape == (2, 28, 28) and c.images.dtype == np.uint8
    assert np.array_equal(c.images[0], np.round(a_drawing(0) * 255).astype(np.uint8))
    assert c.labels.tolist() == [4, 7] and c.predicted.tolist() == [9, 7]
    assert c.raw_sizes.tolist() == [[280, 280], [300, 200]] and c.models == ["numpy m1", "keras m2"]
    assert make(tmp_path / "lab.db").count() == 2  # it persists


@pytest.mark.parametrize("kwargs, message", [
    (dict(label=10), "label must be a digit 0-9"),
    (dict(predicted=-1), "predicted must be a digit 0-9"),
    (dict(image=np.zeros((20, 20))), "28x28"),
    (dict(image=np.full((28, 28), np.nan)), "uint8 or float in"),
])
def test_bad_rows_are_refused_and_nothing_is_written(make, tmp_path, kwargs, message):
    store = make(tmp_path / "lab.db")
    row = dict(image=a_drawing(0), label=3, predicted=3, confidence=0.9, model="m", raw_size=(280, 280))
    with pytest.raises(ValueError, match=message):
        store.add(**{**row, **kwargs})
    assert store.count() == 0


def test_concurrent_writers_lose_nothing(make, tmp_path):
    store = make(tmp_path / "lab.db")
    errors = []

    def writer(worker):
        try:
            for i in range(25):
                store.add(a_drawing(worker * 100 + i), label=worker, predicted=i % 10, confidence=0.5,
                          model=f"w{worker}", raw_size=(280, 280))
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    c = store.all()
    assert len(c) == 200 and len(set(c.ids.tolist())) == 200
    assert np.bincount(c.labels).tolist() == [25] * 8


def test_a_crash_mid_write_leaves_the_database_as_it_was(tmp_path):
    db = tmp_path / "lab.db"
    store = FeedbackStore(db)
    store.add(a_drawing(0), label=1, predicted=1, confidence=0.9, model="m", raw_size=(280, 280))
    # A process inserts inside a transaction and dies (os._exit: no cleanup, no commit).
    code = textwrap.dedent(f"""
        import os, numpy as np
        from mnistcore.lab.feedback import FeedbackError, FeedbackStore, fingerprint
        store = FeedbackStore({str(db)!r})
        db = store._connect()
        db.execute("BEGIN")
        db.execute("INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence,"
                   " model) VALUES ('now', ?, 1, 1, 2, 2, 0.5, 'dying')", (bytes(784),))
        os._exit(1)
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Error" not in done.stderr, done.stderr  # it died at os._exit, not before
    after = FeedbackStore(db).all()
    assert len(after) == 1 and after.models == ["m"]
    FeedbackStore(db).add(a_drawing(2), label=2, predicted=2, confidence=0.9, model="m", raw_size=(280, 280))
    assert FeedbackStore(db).count() == 2  # and it keeps working


def test_downloads_round_trip(make, tmp_path):
    store = make(tmp_path / "lab.db")
    for i in range(5):
        store.add(a_drawing(i), label=i, predicted=(i + 1) % 10, confidence=0.5, model="m", raw_size=(280, 280))
    images, labels = from_csv(store.download("csv").data, tmp_path)
    c = store.all()
    assert np.array_equal(images, c.images) and np.array_equal(labels, c.labels)
    with np.load(io.BytesIO(store.download("npz").data), allow_pickle=False) as npz:
        assert np.array_equal(npz["images"], c.images) and npz["predicted"].tolist() == [1, 2, 3, 4, 5]


def test_downloads_are_bytes_in_memory(tmp_path):
    store = FeedbackStore(tmp_path / "lab.db")
    for i in range(3):
        store.add(a_drawing(i), label=i, predicted=i, confidence=0.5, model="m", raw_size=(280, 280))
    c = store.all()
    assert store.download("csv").data == export_csv(c.images, c.labels, tmp_path / "lab.csv").read_bytes()
    assert store.download("csv").data.decode("ascii").splitlines()[1].startswith("1,")
    with np.load(io.BytesIO(store.download("npz").data), allow_pickle=False) as npz:
        assert np.array_equal(npz["images"], store.all().images) and npz["labels"].tolist() == [0, 1, 2]
    assert {p.name for p in tmp_path.iterdir()} <= {"lab.csv", "lab.db", "lab.db-wal", "lab.db-shm"}  # no leftovers


def test_fingerprint_tells_drawings_apart():
    as_uint8 = np.round(a_drawing(0) * 255).astype(np.uint8)
    assert fingerprint(a_drawing(0)) == fingerprint(a_drawing(0)) == fingerprint(as_uint8)
    assert fingerprint(a_drawing(0)) != fingerprint(a_drawing(1))


def test_opening_what_is_not_there_or_not_a_database(tmp_path):
    with pytest.raises(FileNotFoundError, match="no lab drawings database at"):
        FeedbackStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not SQLite, but long enough to look like a file header" * 4)
    with pytest.raises(FeedbackError, match="junk.db cannot be used"):
        FeedbackStore(junk)


def add(store: FeedbackStore, seed: int, label: int = 3) -> int:
    return store.add(a_drawing(seed), label=label, predicted=label, confidence=0.5, model="m", raw_size=(280, 280))


# ---------------------------------------------------------------------------- the cap


def test_a_full_store_refuses_more_drawings(make, tmp_path):
    store = make(tmp_path / "lab.db", max_rows=3)
    for i in range(3):
        add(store, i)
    with pytest.raises(FeedbackFull, match="it holds 3 drawings, the most it keeps is 3"):
        add(store, 3)
    assert store.count() == 3
    assert issubclass(FeedbackFull, FeedbackError)  # pages that catch FeedbackError catch this too
    add(make(tmp_path / "lab.db", max_rows=4), 3)  # a larger cap takes more
    assert store.count() == 4
    assert feedback.MAX_ROWS == make(tmp_path / "lab.db").max_rows


@pytest.mark.parametrize("kwargs", [dict(max_rows=0), dict(max_rows=2.5), dict(download_rows=-1)])
def test_bad_limits_are_refused(make, tmp_path, kwargs):
    with pytest.raises(ValueError, match="must be a whole number >= 1, got"):
        make(tmp_path / "lab.db", **kwargs)


def test_concurrent_writers_never_pass_the_cap(make, tmp_path):
    store = make(tmp_path / "lab.db", max_rows=30)
    stored, full, errors = [], [], []

    def writer(worker):
        for i in range(10):
            try:
                stored.append(add(store, worker * 100 + i))
            except FeedbackFull:
                full.append(worker)
            except Exception as err:  # noqa: BLE001 - collected and asserted below
                errors.append(err)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(stored) == 30 and len(full) == 50 and store.count() == 30


def test_the_cap_is_counted_inside_the_writing_transaction(tmp_path):
    """A writer that must wait for another counts the drawings after the other has committed."""
    store = FeedbackStore(tmp_path / "lab.db", max_rows=2)
    add(store, 0)
    other = sqlite3.connect(store.path, isolation_level=None)  # another writer, e.g. another process
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence, model)"
                  " VALUES ('now', ?, 1, 1, 2, 2, 0.5, 'other')", (bytes(784),))
    outcome = []
    waiting = threading.Thread(target=lambda: outcome.append(_attempt(store)))
    waiting.start()
    time.sleep(0.3)  # the writer is now waiting for the other's lock (had it counted, it would have seen 1)
    other.execute("COMMIT")
    other.close()
    waiting.join()
    assert outcome == ["full"] and store.count() == 2


def _attempt(store: FeedbackStore) -> str:
    try:
        add(store, 1)
        return "stored"
    except FeedbackFull:
        return "full"


# ---------------------------------------------------------------------------- reading part of it


def test_reading_a_chunk_or_a_page(make, tmp_path):
    store = make(tmp_path / "lab.db")
    assert store.version() == Version(0, 0) and len(store.read()) == 0 and len(store.newest(5)) == 0
    ids = [add(store, i, label=i % 10) for i in range(12)]
    assert store.version() == Version(12, ids[-1])

    first = store.read(limit=5)
    assert first.ids.tolist() == ids[:5]
    second = store.read(after=int(first.ids[-1]), limit=5)
    assert second.ids.tolist() == ids[5:10]
    assert store.read(after=ids[9]).ids.tolist() == ids[10:]
    assert store.read(after=ids[2], up_to=ids[4]).ids.tolist() == ids[3:5]
    assert np.array_equal(second.images, store.all().images[5:10])

    page = store.rows([ids[7], ids[2], ids[11]])  # in the order asked
    assert page.ids.tolist() == [ids[7], ids[2], ids[11]] and page.labels.tolist() == [7, 2, 1]
    assert np.array_equal(page.images[1], np.round(a_drawing(2) * 255).astype(np.uint8))
    assert page.models == ["m"] * 3 and page.raw_sizes.shape == (3, 2)
    assert len(store.rows([])) == 0
    with pytest.raises(KeyError, match="no lab drawing with id 999"):
        store.rows([ids[0], 999])

    assert store.newest(3).ids.tolist() == ids[-3:]  # oldest first
    assert store.newest(3, up_to=ids[5]).ids.tolist() == ids[3:6]
    with pytest.raises(ValueError, match="limit must be a whole number >= 0 or None, got -2"):
        store.read(limit=-2)


def test_counting_uses_the_small_index(tmp_path):
    store = FeedbackStore(tmp_path / "lab.db")
    with sqlite3.connect(store.path) as db:
        plans = {query: " ".join(str(row) for row in db.execute(f"EXPLAIN QUERY PLAN {query}")) for query in
                 ("SELECT COUNT(*) FROM drawings", "SELECT COUNT(*) FROM drawings WHERE status = 'held'",
                  "SELECT id, status FROM drawings INDEXED BY drawings_by_status")}
    # Not the whole table with its images: one of the small indexes.
    assert all("COVERING INDEX drawings_by_" in plan for plan in plans.values()), plans


# ---------------------------------------------------------------------------- downloads


def test_the_fast_csv_is_the_tutorials_csv(make, tmp_path):
    store = make(tmp_path / "lab.db")
    every_value = np.arange(784) % 256  # 0 to 255: every width of number
    for i in range(3):
        store.add(np.roll(every_value, i * 7).reshape(28, 28).astype(np.uint8), label=9 - i, predicted=0,
                  confidence=0.5, model="m", raw_size=(280, 280))
    rows = np.column_stack([store.all().labels.astype(np.int64), store.all().images.reshape(3, 784)])
    reference = io.BytesIO()
    np.savetxt(reference, rows, fmt="%d", delimiter=",")  # the tutorial's CSV, as NumPy writes it
    assert store.download("csv").data == reference.getvalue()
    assert export_csv(store.all().images, store.all().labels, tmp_path / "lab.csv").read_bytes() == reference.getvalue()


def test_the_one_csv_writer_writes_a_file_a_chunk_at_a_time_and_refuses_labels_that_are_not_digits(tmp_path,
                                                                                                     monkeypatch):
    from mnistcore import data

    images = np.arange(5 * 784, dtype=np.int64).reshape(5, 28, 28).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    monkeypatch.setattr(data, "CSV_ROWS_AT_ONCE", 2)  # three chunks: 2, 2 and 1 rows
    assert export_csv(images, labels, tmp_path / "x.csv").read_bytes() == csv_bytes(images, labels)
    assert load_csv(tmp_path / "x.csv")[1].tolist() == [3, 1, 4, 1, 5]
    with pytest.raises(ValueError, match="labels that are digits 0-9, got 12"):
        export_csv(images, np.array([3, 1, 12, 1, 5]), tmp_path / "y.csv")
    assert not (tmp_path / "y.csv").exists()
    assert csv_bytes(images[:0], labels[:0]) == b""


def test_downloads_hold_the_newest_rows_and_are_shared(make, tmp_path, monkeypatch):
    store = make(tmp_path / "lab.db", download_rows=3)
    ids = [add(store, i, label=i) for i in range(5)]
    csv = store.download("csv")
    assert (csv.rows, csv.version, csv.partial) == (3, Version(5, ids[-1]), True)
    images, labels = from_csv(csv.data, tmp_path)
    assert labels.tolist() == [2, 3, 4] and np.array_equal(images, store.newest(3).images)
    assert csv.data == csv_bytes(store.newest(3).images, store.newest(3).labels)
    with np.load(io.BytesIO(store.download("npz").data), allow_pickle=False) as npz:
        assert npz["labels"].tolist() == [2, 3, 4]

    assert store.download("csv") is csv  # the same bytes for the next visitor, not built again
    add(store, 5, label=5)
    again = store.download("csv")
    assert again is not csv and from_csv(again.data, tmp_path)[1].tolist() == [3, 4, 5]
    assert not make(tmp_path / "small.db").download("npz").partial
    with pytest.raises(ValueError, match="one of csv, npz, got 'xlsx'"):
        store.download("xlsx")


def from_csv(data: bytes, folder: Path):
    (folder / "download.csv").write_bytes(data)
    return load_csv(folder / "download.csv")


def test_visitors_clicking_at_once_share_one_build(make, tmp_path, monkeypatch):
    store = make(tmp_path / "lab.db")
    for i in range(4):
        add(store, i)
    builds = []
    real = downloads.csv_bytes

    def slow_build(images, labels):
        builds.append(len(labels))
        time.sleep(0.2)  # long enough for the others to arrive while it builds
        return real(images, labels)

    monkeypatch.setattr(downloads, "csv_bytes", slow_build)
    made = []
    threads = [threading.Thread(target=lambda: made.append(store.download("csv"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == [4] and all(m is made[0] for m in made)


def test_a_download_has_a_size_limit(make, tmp_path):
    store = make(tmp_path / "lab.db", download_rows=2)
    for _ in range(3):  # the longest rows there are: label 9, every pixel 255
        store.add(np.full((28, 28), 255, np.uint8), label=9, predicted=9, confidence=1.0, model="m", raw_size=(1, 1))
    csv = store.download("csv")
    assert csv.rows == 2 and len(csv.data) == 2 * downloads.CSV_ROW_MAX_BYTES
    # With the default limit, a CSV download is at most ~31 MB, whatever the drawings.
    assert downloads.DOWNLOAD_ROWS * downloads.CSV_ROW_MAX_BYTES <= 32_000_000


# ---------------------------------------------------------------------------- undo, review, training set

ME, SOMEONE = "a1b2c3d4e5f6a7b8", "ffffeeeeddddcccc"  # visitor keys, as the Draw page passes them (hashes)


def sure_of(digit: int, p: float = 0.99) -> np.ndarray:
    """A model's probabilities: `p` for `digit`, the rest shared by the other nine."""
    probabilities = np.full(10, (1 - p) / 9)
    probabilities[digit] = p
    return probabilities


def labelled(store: FeedbackStore, seed: int, label: int, visitor: str | None = ME, **kwargs) -> int:
    return store.add(a_drawing(seed), label=label, predicted=7, confidence=0.99, model="m", raw_size=(280, 280),
                     visitor=visitor, **kwargs)


def test_a_visitor_undoes_their_own_label(make, tmp_path):
    store = make(tmp_path / "lab.db")
    keep = labelled(store, 0, label=7)
    mistake = labelled(store, 1, label=1)
    before = store.version()
    store.undo(mistake, ME)
    assert store.all().ids.tolist() == [keep]
    after = store.version()
    assert after.count == 1 and after.changes == before.changes + 1  # reports and downloads see the change
    with pytest.raises(feedback.UndoRefused, match=f"drawing {mistake} is not in the lab's collection"):
        store.undo(mistake, ME)  # a second tap on Undo changes nothing more
    assert store.all().ids.tolist() == [keep]


def test_nobody_undoes_someone_elses_label(make, tmp_path):
    store = make(tmp_path / "lab.db")
    theirs = labelled(store, 0, label=3, visitor=SOMEONE)
    nobodys = labelled(store, 1, label=3, visitor=None)  # saved without a visitor key (e.g. a script)
    for drawing_id in (theirs, nobodys):
        with pytest.raises(feedback.UndoRefused, match=f"drawing {drawing_id} was labelled by someone else"):
            store.undo(drawing_id, ME)
    assert store.count() == 2 and store.version().changes == 0
    assert issubclass(feedback.UndoRefused, ValueError)


def test_undo_is_refused_after_the_window(tmp_path):
    store = FeedbackStore(tmp_path / "lab.db")
    old = labelled(store, 0, label=3)
    recent = labelled(store, 1, label=3)
    long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=feedback.UNDO_SECONDS + 60))
    with sqlite3.connect(store.path) as db:  # as if it had been saved 11 minutes ago
        db.execute("UPDATE drawings SET created_at = ? WHERE id = ?", (long_ago.isoformat(timespec="seconds"), old))
    with pytest.raises(feedback.UndoRefused, match=f"drawing {old} was labelled 11 minutes ago: a label can be "
                                                   "undone for 10 minutes"):
        store.undo(old, ME)
    store.undo(recent, ME)  # the window is per drawing
    assert store.all().ids.tolist() == [old]


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space1", 12345678, "ab/cd/ef/gh"])
def test_a_bad_visitor_key_is_refused_without_showing_it(make, tmp_path, key):
    store = make(tmp_path / "lab.db")
    with pytest.raises(ValueError, match="a visitor key is 8-64 letters") as refused:
        labelled(store, 0, label=3, visitor=key)
    assert str(key) not in str(refused.value) and store.count() == 0
    drawing_id = labelled(store, 0, label=3)
    with pytest.raises(ValueError, match="a visitor key is 8-64 letters"):
        store.undo(drawing_id, key)


def test_a_visitors_key_is_stored_but_never_read_back(tmp_path):
    store = FeedbackStore(tmp_path / "lab.db")
    labelled(store, 0, label=3)
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT visitor FROM drawings").fetchall() == [(ME,)]
    pages = [store.all(), store.read(), store.rows(store.all().ids), store.held(10), store.newest(5)]
    for collected in pages:
        assert ME not in repr(collected.__dict__)
    with np.load(io.BytesIO(store.download("npz").data), allow_pickle=False) as npz:
        assert ME.encode() not in b"".join(npz[name].tobytes() for name in npz.files)
    assert ME.encode() not in store.download("csv").data


def test_a_label_no_model_agrees_with_is_held(make, tmp_path):
    store = make(tmp_path / "lab.db")
    mis_tap = labelled(store, 0, label=1, probabilities=sure_of(7))  # "No, it's a 1" under a clear 7
    hard = labelled(store, 1, label=4, probabilities=sure_of(9, 0.6))  # a hard case: a person decides
    right = labelled(store, 2, label=7, probabilities=sure_of(7))
    unknown = labelled(store, 3, label=1)  # no probabilities given: nothing to judge by
    # One saved run that agrees with the label: it stands.
    split = labelled(store, 4, label=1, probabilities=sure_of(7), others=[sure_of(1, 0.5)])
    both = labelled(store, 5, label=1, probabilities=sure_of(7), others=[sure_of(7, 0.95)])
    c = store.all()
    assert dict(zip(c.ids.tolist(), c.status)) == {mis_tap: "held", hard: "held", right: "ok", unknown: "ok",
                                                   split: "ok", both: "held"}
    assert c.label_probability[0] == pytest.approx(0.01 / 9) and np.isnan(c.label_probability[3])
    assert store.held_count() == 3 and store.held(10).ids.tolist() == [mis_tap, hard, both]
    assert store.held(1, offset=2).ids.tolist() == [both]
    with pytest.raises(ValueError, match=r"probabilities must have shape \(10,\), got \(3,\)"):
        labelled(store, 6, label=1, probabilities=[0.5, 0.5, 0])
    assert store.count() == 6


def test_the_training_set_holds_only_labels_that_stand(make, tmp_path):
    store = make(tmp_path / "lab.db")
    empty = store.training_set()
    assert len(empty) == 0 and empty.record == {"count": 0, "up_to_id": 0, "newest": None}
    ids = [labelled(store, 0, label=7, probabilities=sure_of(7)),
           labelled(store, 1, label=1, probabilities=sure_of(7)),   # held, then accepted
           labelled(store, 2, label=2, probabilities=sure_of(7)),   # held, then rejected
           labelled(store, 3, label=3, probabilities=sure_of(7)),   # held, left waiting
           labelled(store, 4, label=8, probabilities=sure_of(8))]
    assert store.review([ids[1]], "accepted") == 1
    assert store.review([ids[2]], "rejected") == 1
    chosen = store.training_set()
    assert chosen.labels.tolist() == [7, 1, 8]
    assert np.array_equal(chosen.images[1], np.round(a_drawing(1) * 255).astype(np.uint8))
    newest = store.rows([ids[4]]).created_at[0]
    assert chosen.record == {"count": 3, "up_to_id": ids[4], "newest": newest}
    # Downloads hold the same drawings as training.
    assert from_csv(store.download("csv").data, tmp_path)[1].tolist() == [7, 1, 8]
    assert store.download("npz").usable == 3 and not store.download("npz").partial
    with np.load(io.BytesIO(store.download("npz").data), allow_pickle=False) as npz:
        assert npz["labels"].tolist() == [7, 1, 8]


def test_review_decides_each_held_drawing_once(make, tmp_path):
    store = make(tmp_path / "lab.db")
    held = [labelled(store, i, label=1, probabilities=sure_of(7)) for i in range(4)]
    fine = labelled(store, 9, label=7, probabilities=sure_of(7))
    assert store.review(held[:2], "accepted") == 2
    assert store.review(held[:2], "accepted") == 0  # the same click again: nothing changes
    assert store.review([held[1], held[2]], "rejected") == 1  # a second operator: only the undecided one
    assert store.review([fine], "rejected") == 0  # only held drawings are reviewed
    assert store.review([], "accepted") == 0
    assert store.all().status == ["accepted", "accepted", "rejected", "held", "ok"]
    assert store.version().changes == 2  # counted only when something changed
    with pytest.raises(ValueError, match="one of accepted, rejected, got 'ok'"):
        store.review(held[3:], "ok")
    with pytest.raises(ValueError, match="at most 100 drawings, got 101"):
        store.review(list(range(1, 102)), "rejected")


def test_operators_deciding_at_once_decide_each_drawing_once(make, tmp_path):
    store = make(tmp_path / "lab.db")
    held = [labelled(store, i, label=1, probabilities=sure_of(7)) for i in range(20)]
    changed, errors = [], []

    def operator(decision):
        try:
            changed.append(store.review(held, decision))
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=operator, args=(d,)) for d in ("accepted", "rejected") * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(changed) == [0, 0, 0, 0, 0, 20]
    assert len(set(store.all().status)) == 1  # all decided by the one who came first


def test_a_database_from_before_undo_and_review_is_brought_up_to_date(tmp_path):
    db = tmp_path / "old.db"
    old_schema = """CREATE TABLE drawings (
        id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, image BLOB NOT NULL,
        raw_height INTEGER NOT NULL, raw_width INTEGER NOT NULL,
        label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
        predicted INTEGER NOT NULL CHECK (predicted BETWEEN 0 AND 9), confidence REAL NOT NULL, model TEXT NOT NULL)"""
    with closing(sqlite3.connect(db)) as old, old:
        old.execute(old_schema)
        old.execute("CREATE INDEX drawings_by_label ON drawings (label)")
        for label in (2, 5):
            old.execute("INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence,"
                        " model) VALUES ('2026-11-01T10:00:00+00:00', ?, 280, 280, ?, ?, 0.9, 'old')",
                        (bytes(784), label, label))
    stores = []
    openers = [threading.Thread(target=lambda: stores.append(FeedbackStore(db))) for _ in range(3)]
    for t in openers:  # several server threads opening it at once add the columns once
        t.start()
    for t in openers:
        t.join()
    store = stores[0]
    assert len(stores) == 3
    c = store.all()
    assert c.labels.tolist() == [2, 5] and c.status == ["ok", "ok"] and np.isnan(c.label_probability).all()
    assert store.training_set().labels.tolist() == [2, 5] and store.version() == Version(2, 2, 0)
    with pytest.raises(feedback.UndoRefused, match="labelled by someone else"):
        store.undo(1, ME)  # nobody's key was kept then
    new = labelled(store, 0, label=1, probabilities=sure_of(7))
    assert store.held(5).ids.tolist() == [new] and store.review([new], "rejected") == 1
    assert FeedbackStore(db).training_set().labels.tolist() == [2, 5]  # and it opens again as it is


def test_only_a_models_agreement_lets_a_label_stand():
    from mnistcore.lab import review
    sure = sure_of(7, 0.95)
    assert review.should_hold(1, sure) and not review.should_hold(7, sure)
    at_the_edge = np.full(10, 0.0)
    at_the_edge[7], at_the_edge[1] = review.AGREE_ABOVE, 0.4
    assert not review.should_hold(7, at_the_edge)  # its answer at exactly AGREE_ABOVE: it stands
    assert review.should_hold(1, at_the_edge)      # the second bar, however tall: held
    assert review.should_hold(7, sure_of(7, 0.45))  # its answer, but not sure enough
    assert not review.should_hold(1, sure, others=[sure, sure_of(1, 0.6)])  # one model agrees: it stands
    with pytest.raises(ValueError, match="at most 32 models' answers, got 33"):
        review.should_hold(1, sure, others=[sure] * 32)
    with pytest.raises(ValueError, match=r"numbers in \[0, 1\]"):
        review.should_hold(1, np.full(10, np.nan))
    with pytest.raises(ValueError, match="label must be a digit 0-9 or None"):
        review.should_hold(10, sure)
    # "Not a digit" (None) stands only where no model is even half sure of a digit
    assert review.should_hold(None, sure) and not review.should_hold(None, sure_of(7, 0.45))
    assert not review.should_hold(None, sure, others=[sure_of(3, 0.3)])


def test_not_a_digit_is_kept_as_such_and_never_trained_on_as_a_digit(make, tmp_path):
    store = make(tmp_path / "lab.db")
    image = np.zeros((28, 28), np.uint8)
    image[5:20, 10:14] = 255
    drawn = store.add(image, label=7, predicted=7, confidence=0.3, model="m", raw_size=(280, 280),
                      visitor="visitor-1", probabilities=sure_of(7, 0.3), not_digit=True)  # not even half sure
    store.add(image, label=1, predicted=1, confidence=0.9, model="m", raw_size=(280, 280))
    assert store.count() == 2 and store.usable_count() == 1
    assert store.training_set().labels.tolist() == [1] and store.read().labels.tolist() == [1]
    assert np.array_equal(store.not_digits(), image[None]) and store.all().status == ["ok", "ok"]
    assert store.all().not_digit.tolist() == [True, False]
    # What training reads: the digits to learn, and beside them what its companion learns to refuse.
    assert np.array_equal(store.training_set().not_digits, image[None])
    store.undo(drawn, "visitor-1")
    assert len(store.not_digits()) == 0 and store.count() == 1
    assert len(store.training_set().not_digits) == 0


def test_not_a_digit_said_of_what_the_model_reads_surely_waits_for_review(make, tmp_path):
    """Else anyone could teach the lab's models to refuse clear digits: like a wrong digit, it is held."""
    store = make(tmp_path / "lab.db")
    image = np.zeros((28, 28), np.uint8)
    image[5:20, 10:14] = 255
    said = store.add(image, label=1, predicted=1, confidence=0.99, model="m", raw_size=(280, 280),
                     visitor="visitor-1", probabilities=sure_of(1, 0.99), not_digit=True)
    assert store.all().status == ["held"] and store.held(5).not_digit.tolist() == [True]
    assert len(store.not_digits()) == 0 and len(store.training_set().not_digits) == 0  # not learnt from yet
    assert store.review([said], "accepted") == 1
    assert np.array_equal(store.not_digits(), image[None])  # an operator agreed: now it is
    assert np.array_equal(store.training_set().not_digits, image[None]) and len(store.training_set()) == 0


def test_an_older_database_gets_the_not_a_digit_column(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(feedback.SCHEMA.replace(",\n    " + feedback.ADDED_COLUMNS["not_digit"], ""))
        db.execute("INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence,"
                   " model) VALUES ('2026-01-01T00:00:00+00:00', ?, 280, 280, 3, 3, 0.9, 'm')", (bytes(784),))
        assert "not_digit" not in {row[1] for row in db.execute("PRAGMA table_info(drawings)")}
    store = FeedbackStore(path)
    assert store.training_set().labels.tolist() == [3] and len(store.not_digits()) == 0
