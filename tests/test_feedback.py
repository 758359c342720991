"""The lab's handwriting store: transactions, concurrency, a crash mid-write, exports."""
import io
import subprocess
import sys
import threading
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mnistcore.data import load_csv
from mnistcore.lab.feedback import FeedbackError, FeedbackStore, fingerprint

PROJECT = Path(__file__).resolve().parent.parent


def a_drawing(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((28, 28)).astype(np.float32)


def test_add_and_read_back(tmp_path):
    store = FeedbackStore(tmp_path / "lab.db")
    first = store.add(a_drawing(0), label=4, predicted=9, confidence=0.55, model="numpy m1", raw_size=(280, 280))
    second = store.add(a_drawing(1), label=7, predicted=7, confidence=0.98, model="keras m2", raw_size=(300, 200))
    assert second > first and store.count() == 2
    c = store.all()
    assert c.images.shape == (2, 28, 28) and c.images.dtype == np.uint8
    assert np.array_equal(c.images[0], np.round(a_drawing(0) * 255).astype(np.uint8))
    assert c.labels.tolist() == [4, 7] and c.predicted.tolist() == [9, 7]
    assert c.raw_sizes.tolist() == [[280, 280], [300, 200]] and c.models == ["numpy m1", "keras m2"]
    assert FeedbackStore(tmp_path / "lab.db").count() == 2  # it persists


@pytest.mark.parametrize("kwargs, message", [
    (dict(label=10), "label must be a digit 0-9"),
    (dict(predicted=-1), "predicted must be a digit 0-9"),
    (dict(image=np.zeros((20, 20))), "28x28"),
    (dict(image=np.full((28, 28), np.nan)), "uint8 or float in"),
])
def test_bad_rows_are_refused_and_nothing_is_written(tmp_path, kwargs, message):
    store = FeedbackStore(tmp_path / "lab.db")
    row = dict(image=a_drawing(0), label=3, predicted=3, confidence=0.9, model="m", raw_size=(280, 280))
    with pytest.raises(ValueError, match=message):
        store.add(**{**row, **kwargs})
    assert store.count() == 0


def test_concurrent_writers_lose_nothing(tmp_path):
    store = FeedbackStore(tmp_path / "lab.db")
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
        db.execute("INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence, model)"
                   " VALUES ('now', ?, 1, 1, 2, 2, 0.5, 'dying')", (bytes(784),))
        os._exit(1)
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    after = FeedbackStore(db).all()
    assert len(after) == 1 and after.models == ["m"]
    FeedbackStore(db).add(a_drawing(2), label=2, predicted=2, confidence=0.9, model="m", raw_size=(280, 280))
    assert FeedbackStore(db).count() == 2  # and it keeps working


def test_exports_round_trip(tmp_path):
    store = FeedbackStore(tmp_path / "lab.db")
    for i in range(5):
        store.add(a_drawing(i), label=i, predicted=(i + 1) % 10, confidence=0.5, model="m", raw_size=(280, 280))
    images, labels = load_csv(store.export_csv(tmp_path / "lab.csv"))
    c = store.all()
    assert np.array_equal(images, c.images) and np.array_equal(labels, c.labels)
    with np.load(store.export_npz(tmp_path / "lab.npz"), allow_pickle=False) as npz:
        assert np.array_equal(npz["images"], c.images) and npz["predicted"].tolist() == [1, 2, 3, 4, 5]


def test_exports_as_bytes_for_downloads(tmp_path):
    store = FeedbackStore(tmp_path / "lab.db")
    for i in range(3):
        store.add(a_drawing(i), label=i, predicted=i, confidence=0.5, model="m", raw_size=(280, 280))
    assert store.csv_bytes() == store.export_csv(tmp_path / "lab.csv").read_bytes()
    assert store.csv_bytes().decode("ascii").splitlines()[1].startswith("1,")
    with np.load(io.BytesIO(store.npz_bytes()), allow_pickle=False) as npz:
        assert np.array_equal(npz["images"], store.all().images) and npz["labels"].tolist() == [0, 1, 2]
    assert {p.name for p in tmp_path.iterdir()} <= {"lab.csv", "lab.db", "lab.db-wal", "lab.db-shm"}  # no leftovers


def test_fingerprint_tells_drawings_apart():
    assert fingerprint(a_drawing(0)) == fingerprint(a_drawing(0)) == fingerprint(np.round(a_drawing(0) * 255).astype(np.uint8))
    assert fingerprint(a_drawing(0)) != fingerprint(a_drawing(1))


def test_opening_what_is_not_there_or_not_a_database(tmp_path):
    with pytest.raises(FileNotFoundError, match="no lab drawings database at"):
        FeedbackStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not SQLite, but long enough to look like a file header" * 4)
    with pytest.raises(FeedbackError, match="junk.db cannot be used"):
        FeedbackStore(junk)
