"""Moving a one-machine lab (SQLite, weights/) into PostgreSQL: `python -m mnistcore db import`."""
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnistcore.lab import config
from mnistcore.lab.classroom import ClassBoard
from mnistcore.lab.feedback import FeedbackStore
from mnistcore.lab.pg.classroom import PgClassBoard
from mnistcore.lab.pg.feedback import PgFeedbackStore
from mnistcore.lab.pg.store import PgModelStore
from mnistcore.lab.store import ModelStore
from sitetools import tiny_model, weights_copy

PROJECT = Path(__file__).resolve().parent.parent
VISITOR = "visitor-key-1"


def a_lab(tmp_path, small_mnist):
    """An SQLite lab: drawings with an undo and a review, a published live model, a model on the class board."""
    lab = FeedbackStore(tmp_path / "lab.db")
    rng = np.random.default_rng(0)
    ids = [lab.add(rng.random((28, 28)), label=d, predicted=d, confidence=0.9, model="m", raw_size=(280, 280),
                   visitor=VISITOR) for d in (1, 2, 3)]
    lab.undo(ids[1], VISITOR)
    held = lab.add(rng.random((28, 28)), label=7, predicted=1, confidence=0.9, model="m", raw_size=(9, 9),
                   probabilities=np.eye(10)[1])
    assert lab.review([held], "rejected") == 1
    weights = weights_copy(tmp_path / "weights", small_mnist)
    live = ModelStore(weights).publish(tiny_model(small_mnist, hidden=16, samples=500, seed=1))
    model = tiny_model(small_mnist, hidden=16, samples=500, seed=2)
    model.info = replace(model.info, test_accuracy=0.8)
    ClassBoard(weights / "class").add("abcdefabcdef", "key-ada", "Ada", "a recipe", model, "2026-12-04T10:00",
                                      settings={"epochs": 2, "hidden": 16})
    return lab, weights, live.name


def test_the_command_line_moves_a_lab_into_postgresql(pg_url, tmp_path, small_mnist):
    lab, weights, live_name = a_lab(tmp_path, small_mnist)
    env = {**os.environ, "PYTHONPATH": str(PROJECT), config.DATABASE_ENV: pg_url,
           "MNISTLAB_FEEDBACK_DB": str(lab.path), "MNISTLAB_WEIGHTS_DIR": str(weights)}
    done = subprocess.run([sys.executable, "-m", "mnistcore", "db", "import"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "imported 3 drawings" in done.stdout and "imported 1 published runs" in done.stdout
    assert "imported 1 models of the class board" in done.stdout
    moved = PgFeedbackStore(pg_url)
    assert moved.version() == lab.version()  # count, newest id and changes (an undo, a review)
    before, after = lab.all(), moved.all()
    np.testing.assert_array_equal(after.ids, before.ids)
    np.testing.assert_array_equal(after.images, before.images)
    assert after.status == before.status and "rejected" in after.status
    assert moved.add(np.zeros((28, 28)), label=5, predicted=5, confidence=1.0, model="m",
                     raw_size=(1, 1)) == before.ids.max() + 1  # new drawings continue after the old ids
    store = PgModelStore(pg_url, weights_copy(tmp_path / "elsewhere", small_mnist))  # another machine
    board = PgClassBoard(pg_url, tmp_path / "elsewhere" / "class", listen=False)
    try:
        assert store.live().name == live_name and not store.warning
        assert board.entries() == ClassBoard(weights / "class").entries()  # settings too
        assert board.entries()[0].settings == {"epochs": 2, "hidden": 16}
        images = small_mnist[1][0][:5]
        np.testing.assert_allclose(board.model("abcdefabcdef").predict_proba(images),
                                   ClassBoard(weights / "class").model("abcdefabcdef").predict_proba(images))
    finally:
        store.close()
    again = subprocess.run([sys.executable, "-m", "mnistcore", "db", "import"], env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 2 and "already holds 4 drawings and 1 runs" in again.stderr


def test_an_import_that_fails_leaves_nothing_behind(pg_url, tmp_path, small_mnist, monkeypatch):
    from mnistcore.lab.pg import schema, sqlite_import

    lab, weights, _ = a_lab(tmp_path, small_mnist)
    schema.upgrade(pg_url)
    monkeypatch.setattr(sqlite_import, "MAX_ARCHIVE_BYTES", 10)  # the run is too large: the import stops
    with pytest.raises(ValueError, match="more than a model may"):
        list(sqlite_import.import_lab(pg_url, lab.path, weights))
    assert PgFeedbackStore(pg_url).count() == 0  # the drawings copied before it were rolled back
