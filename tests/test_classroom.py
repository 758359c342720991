"""The class board: every run's model kept for its owner, ranked, shared between processes (or,
in PostgreSQL, between machines), and never made live by being kept. The board's tests run on each
back end (the `database` fixture: a folder of files, or a real PostgreSQL)."""
import json
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from mnistcore.lab.classroom import ClassBoard, ClassModel, ranked
from mnistcore.lab.pg.classroom import PgClassBoard
from mnistcore.lab.slot import FINISHED, TrainingSlot
from mnistcore.lab.store import ModelStore
from mnistcore.training import TrainSettings
from sitetools import tiny_model, weights_copy

QUICK = TrainSettings(epochs=1, batch_size=64, hidden=16, train_limit=1000)


@pytest.fixture
def class_board(database, tmp_path):
    """make(folder, **options): a board on this test's back end; in PostgreSQL each folder is one
    machine's cache, and all of them share the one database."""
    made = []

    def make(folder, **options):
        if database is None:
            return ClassBoard(folder, **options)
        made.append(PgClassBoard(database, folder, **options))
        return made[-1]

    yield make
    for board in made:
        board.close()


def with_accuracy(model, accuracy: float):
    model.info = replace(model.info, test_accuracy=accuracy)
    return model


def test_a_kept_model_is_listed_with_its_owner_and_loads_again(class_board, database, tmp_path, small_mnist):
    board = class_board(tmp_path / "class", signal_path=tmp_path / "static" / "class.json")
    model = with_accuracy(tiny_model(small_mnist), 0.91)
    settings = {"engine": "numpy", "arch": "mlp", "epochs": 2, "hidden": 16}  # each visitor reads it in their language
    entry = board.add("0123456789ab", "key-ada", "Ada", "a recipe", model, "2026-12-04T10:00:00+00:00", 0.5, 4,
                      settings=settings)
    # Another process reading the same folder; in PostgreSQL, another machine with a folder of its own.
    again = class_board(tmp_path / ("class" if database is None else "other-machine"))
    assert again.entries() == [entry] and again.entries()[0].settings == settings
    assert again.latest_of("key-ada") == entry and again.latest_of("key-bob") is None
    images = small_mnist[1][0][:20]
    np.testing.assert_allclose(again.model("0123456789ab").predict_proba(images), model.predict_proba(images),
                               rtol=1e-5, atol=1e-6)
    assert json.loads((tmp_path / "static" / "class.json").read_text())["live"] == board.version()


def test_a_run_is_kept_once_and_the_board_changes_its_version(class_board, tmp_path, small_mnist):
    board = class_board(tmp_path / "class")
    before = board.version()
    model = with_accuracy(tiny_model(small_mnist), 0.9)
    first = board.add("aaaaaaaaaaaa", "k", "Ada", "r", model, "2026-12-04T10:00:00+00:00")
    assert board.version() != before
    assert board.add("aaaaaaaaaaaa", "k", "Ada", "r", model, "2026-12-04T11:00:00+00:00") == first
    assert len(board.entries()) == 1


def test_the_board_is_ranked_best_first_and_keeps_the_newest(class_board, tmp_path, small_mnist):
    board = class_board(tmp_path / "class", kept=2)
    model = tiny_model(small_mnist)
    for i, accuracy in enumerate([0.90, 0.95, 0.93]):
        board.add(f"{i:012x}", f"k{i}", f"V{i}", "r", with_accuracy(model, accuracy), f"2026-12-04T10:0{i}:00+00:00")
    assert [e.test_accuracy for e in board.entries()] == [0.95, 0.93]  # the oldest went, file and all
    assert sorted(p.name for p in (tmp_path / "class").glob("*.npz")) == ["000000000001.npz", "000000000002.npz"]


def test_ties_on_mnist_are_ranked_by_the_lab_drawings():
    a = ClassModel("a" * 12, "k", "A", "r", 0.9, 0.4, 10, "2026-12-04T10:00:00", "a.npz")
    b = replace(a, run_id="b" * 12, drawings_accuracy=0.6, trained_at="2026-12-04T11:00:00")
    assert ranked([a, b]) == [b, a]


def test_only_run_ids_and_tested_models_are_kept(class_board, tmp_path, small_mnist):
    board = class_board(tmp_path / "class")
    with pytest.raises(ValueError, match="not a training run's id"):
        board.add("../../x", "k", "A", "r", with_accuracy(tiny_model(small_mnist), 0.9), "t")
    with pytest.raises(ValueError, match="never tested"):
        board.add("a" * 12, "k", "A", "r", tiny_model(small_mnist), "t")
    with pytest.raises(ValueError, match="no model of run"):
        board.model("b" * 12)


def test_every_finished_run_goes_on_the_board_and_the_live_model_stays(class_board, tmp_path, small_mnist):
    store = ModelStore(weights_copy(tmp_path / "weights", small_mnist))
    board = class_board(tmp_path / "class")
    before = store.live().name
    keep = lambda run, result: board.add(run.run_id, run.owner, run.label, run.settings.describe(),  # noqa: E731
                                         result.model, run.finished_at.isoformat())
    slot = TrainingSlot(on_model=keep)
    for owner in ("ada", "bob"):
        slot.submit(QUICK, small_mnist, owner=owner, label=owner.title())
        assert slot.wait(60)
    assert slot.status().state == FINISHED
    entries = board.entries()
    assert sorted(e.label for e in entries) == ["Ada", "Bob"]
    assert all(0 < e.test_accuracy <= 1 for e in entries)
    assert store.live().name == before


def test_class_training_is_a_yes_or_no_setting_and_a_mistake_closes_it():
    from mnistcore.lab import config
    assert config.access(environ={"MNISTLAB_DEMO": "1", "MNISTLAB_CLASS_TRAINING": "yes"}).class_training
    assert not config.access(environ={"MNISTLAB_DEMO": "1"}).class_training
    wrong = config.access(environ={"MNISTLAB_CLASS_TRAINING": "maybe"})
    assert not wrong.class_training and "maybe" in wrong.problem and wrong.demo


def test_a_model_kept_on_one_machine_redraws_the_pages_open_on_another(pg_url, tmp_path, small_mnist):
    signal = tmp_path / "b" / "static" / "class.json"
    a, b = PgClassBoard(pg_url, tmp_path / "a"), PgClassBoard(pg_url, tmp_path / "b" / "class", signal_path=signal)
    try:
        entry = a.add("cccccccccccc", "k", "Ada", "r", with_accuracy(tiny_model(small_mnist), 0.9), "2026-12-04T10:00")
        shown = lambda: signal.is_file() and json.loads(signal.read_text())["live"] == a.version()  # noqa: E731
        pause, deadline = threading.Event(), time.monotonic() + 5
        while not shown() and time.monotonic() < deadline:
            pause.wait(0.05)  # B's listener rewrites its signal file on A's NOTIFY
        assert shown() and b.entries() == [entry]
        assert not (tmp_path / "b" / "class" / entry.file).exists()  # fetched only when asked for
        images = small_mnist[1][0][:5]
        np.testing.assert_allclose(b.model(entry.run_id).predict_proba(images),
                                   a.model(entry.run_id).predict_proba(images), rtol=1e-6)
    finally:
        a.close()
        b.close()
