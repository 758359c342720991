"""The model store: publishing, going back, surviving bad files, and readers during changes."""
import datetime as dt
import io
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from mnistcore.nets import read_info
from mnistcore.nets.base import ModelFileError
import mnistcore.lab.store as store_module
from mnistcore.lab.pg.store import PgModelStore
from mnistcore.lab.store import DEFAULT_NAME, RUN_NAME, RUNS_KEPT, STALE_TEMP_SECONDS, ModelStore
from sitetools import PROJECT_DIR, tiny_model, weights_copy


@pytest.fixture(scope="module")
def models(small_mnist):
    """Three small networks of different sizes, so a mixed-up snapshot would show."""
    return [tiny_model(small_mnist, hidden=h, samples=500, seed=h) for h in (16, 24, 32)]


@pytest.fixture(params=["sqlite", "postgres"])
def make(request):
    """How a store is made, for each back end: its record and runs in the folder, or in PostgreSQL
    (a real server) with the folder as this machine's cache."""
    if request.param == "sqlite":
        yield ModelStore
        return
    url, stores = request.getfixturevalue("pg_url"), []

    def make(folder, *args, **kwargs):
        stores.append(PgModelStore(url, folder, *args, **kwargs))
        return stores[-1]

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def folder(tmp_path, small_mnist):
    return weights_copy(tmp_path / "weights", small_mnist)


def test_starts_with_the_shipped_default_without_a_warning(make, folder):
    store = make(folder)
    live = store.live()
    assert live.name == DEFAULT_NAME and live.is_default
    assert live.info == read_info(folder / "default.npz")
    assert store.warning is None
    assert [run.name for run in store.runs()] == [DEFAULT_NAME]
    assert store.runs()[0].live


def test_publish_saves_a_run_and_makes_it_live_across_restarts(folder, models):
    store = ModelStore(folder)
    before = store.live()
    live = store.publish(models[0])
    assert RUN_NAME.fullmatch(live.name) and live.name.split("-")[1] == "numpy"
    assert (folder / "runs" / live.name).is_file()
    assert json.loads((folder / "live.json").read_text())["live"] == live.name
    assert store.live() is live and live.version == before.version + 1 and live.id != before.id
    assert live.info == models[0].info
    restarted = ModelStore(folder).live()
    assert restarted.name == live.name and restarted.info == models[0].info
    np.testing.assert_array_equal(restarted.model.wih, models[0].wih)


def test_runs_lists_newest_first_then_the_default_and_marks_the_live_one(make, folder, models):
    store = make(folder)
    names = [store.publish(m).name for m in models]
    runs = store.runs()
    assert [r.name for r in runs[:-1]] == sorted(names, reverse=True)
    assert runs[-1].name == DEFAULT_NAME and runs[-1].is_default
    assert [r.name for r in runs if r.live] == [names[-1]]
    assert all(r.info is not None and r.error is None for r in runs)


def test_make_live_goes_back_to_an_earlier_run_and_to_the_default(folder, models):
    store = ModelStore(folder)
    first = store.publish(models[0]).name
    store.publish(models[1])
    assert store.make_live(first).info == models[0].info
    assert json.loads((folder / "live.json").read_text())["live"] == first
    assert ModelStore(folder).live().name == first
    assert store.make_live(DEFAULT_NAME).is_default
    assert ModelStore(folder).live().is_default


@pytest.mark.parametrize("name", ["../default.npz", "/etc/passwd", "runs/x.npz", "default.npz", "",
                                  "20250101T120000Z-numpy-0123abcd.npz/../../x", "20250101T120000Z-numpy-0123abcd.pkl"])
def test_make_live_refuses_names_that_are_not_runs(make, folder, name):
    store = make(folder)
    with pytest.raises(ValueError, match="not the name of a saved run"):
        store.make_live(name)
    assert store.live().is_default


def test_make_live_of_a_missing_run_says_so_and_changes_nothing(folder):
    store = ModelStore(folder)
    with pytest.raises(ModelFileError, match="no such model file"):
        store.make_live("20250101T120000Z-numpy-0123abcd.npz")
    assert store.live().is_default and not (folder / "live.json").exists()


def test_a_symlink_in_runs_cannot_lead_outside(folder, tmp_path, models):
    outside = models[0].save(tmp_path / "elsewhere.npz")
    (folder / "runs").mkdir()
    (folder / "runs" / "20250101T120000Z-numpy-0123abcd.npz").symlink_to(outside)
    with pytest.raises(ValueError, match="inside"):
        ModelStore(folder).make_live("20250101T120000Z-numpy-0123abcd.npz")


@pytest.mark.parametrize("damage", ["garbage json", "missing run", "damaged run", "bad name"])
def test_a_broken_live_record_falls_back_to_the_default_with_a_warning(folder, models, damage):
    store = ModelStore(folder)
    name = store.publish(models[0]).name
    if damage == "garbage json":
        (folder / "live.json").write_text("{not json")
    elif damage == "missing run":
        (folder / "runs" / name).unlink()
    elif damage == "damaged run":
        (folder / "runs" / name).write_bytes(b"PK\x03\x04 truncated")
    else:
        (folder / "live.json").write_text(json.dumps({"live": "../../etc/passwd"}))
    restarted = ModelStore(folder)
    assert restarted.live().is_default
    assert "could not be loaded" in restarted.warning and "default" in restarted.warning
    # Publishing again repairs the record, and the warning goes away.
    restarted.publish(models[1])
    assert restarted.warning is None


def test_without_any_loadable_model_the_store_says_what_to_do(tmp_path, models):
    folder = tmp_path / "empty"
    folder.mkdir()
    store = ModelStore(folder)
    assert store.live() is None
    assert "No model could be loaded" in store.warning and "Train" in store.warning
    assert store.publish(models[0]).info == models[0].info  # the Train page can still fix it


def test_damaged_run_files_are_listed_with_the_reason(folder):
    (folder / "runs").mkdir()
    (folder / "runs" / "20250101T120000Z-numpy-0123abcd.npz").write_bytes(b"not a zip")
    (folder / "runs" / "notes.txt").write_text("ignored: not a run name")
    runs = ModelStore(folder).runs()
    assert [r.name for r in runs] == ["20250101T120000Z-numpy-0123abcd.npz", DEFAULT_NAME]
    assert runs[0].info is None and "not a saved model" in runs[0].error


def test_evaluation_is_computed_once_per_live_model(make, folder, models, small_mnist, monkeypatch):
    (_, _), (x_test, y_test) = small_mnist
    store = make(folder)
    calls = []
    import mnistcore.lab.store as store_module
    real = store_module.evaluate
    monkeypatch.setattr(store_module, "evaluate", lambda *a: calls.append(1) or real(*a))
    live = store.live()
    first = store.evaluation(live, x_test, y_test)
    assert store.evaluation(live, x_test, y_test) is first and len(calls) == 1
    assert first.accuracy == pytest.approx(float(np.mean(live.model.predict(x_test) == y_test)))
    published = store.publish(models[0])
    assert store.evaluation(published, x_test, y_test) is not first and len(calls) == 2


def test_readers_see_whole_models_while_others_publish_and_revert(make, folder, models, small_mnist):
    """Readers predict continuously while a writer publishes and reverts: no errors, no mixes."""
    (_, _), (x_test, _) = small_mnist
    store = make(folder)
    names = [store.publish(m).name for m in models]
    done = threading.Event()
    errors, seen = [], []

    def read():
        try:
            while not done.is_set():
                live = store.live()
                # The snapshot's info, model and name must all describe the same network.
                assert live.model.info is live.info
                if live.info.architecture.startswith("784-"):  # the runs' MLPs (the default is a convnet)
                    hidden = int(live.info.architecture.split("-")[1])
                    assert live.model.wih.shape == (hidden, 784)
                proba = live.model.predict_proba(x_test[:64])
                assert proba.shape == (64, 10) and np.allclose(proba.sum(axis=1), 1, atol=1e-4)
                seen.append(live.id)
        except Exception as err:  # noqa: BLE001 - reported to the main thread below
            errors.append(err)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for round_ in range(6):
            store.make_live(names[round_ % 3])
            store.publish(models[round_ % 3])
            store.make_live(DEFAULT_NAME)
    finally:
        done.set()
        for thread in readers:
            thread.join(10)
    assert not errors, errors
    assert len(set(seen)) > 1  # the readers really did see the model change
    restarted = make(folder)
    assert restarted.live().is_default and store.live().is_default
    for run in restarted.runs():
        assert run.info is not None, run.error  # every published file is whole


# ---------------------------------------------------------------------------- crashes while publishing


def test_a_save_that_fails_half_way_changes_nothing(folder, models, monkeypatch):
    store = ModelStore(folder)
    first = store.publish(models[0])
    live_json = (folder / "live.json").read_bytes()
    real_savez = np.savez

    def half_then_fail(f, **arrays):
        buffer = io.BytesIO()
        real_savez(buffer, **arrays)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        store.publish(models[1])
    assert store.live() is first and (folder / "live.json").read_bytes() == live_json
    assert sorted(p.name for p in (folder / "runs").iterdir()) == [first.name]  # no half file, no temp file
    restarted = ModelStore(folder)
    assert restarted.live().name == first.name and restarted.warning is None


# A publisher in its own process, stopped dead (SIGKILL: no clean-up of any kind) at a chosen
# moment of its second publish. It prints "ready" when it has got there.
PUBLISHER = """
import io, sys, threading
import numpy as np
import mnistcore.lab.store as store_module
from mnistcore.files import atomic_write
from mnistcore.nets.numpy_net import NeuralNetWork

folder, stage = sys.argv[1], sys.argv[2]
store = store_module.ModelStore(folder)
store.publish(NeuralNetWork(784, 16, 10, 0.1, seed=1))  # the model that must survive
real_savez, real_write_live = np.savez, store._write_live_file

def stuck(write_half):
    write_half()
    print("ready", flush=True)
    threading.Event().wait()  # until killed

def half_savez(f, **arrays):
    buffer = io.BytesIO()
    real_savez(buffer, **arrays)
    stuck(lambda: (f.write(buffer.getvalue()[:len(buffer.getvalue()) // 2]), f.flush()))

def half_live_json(path, data):
    return atomic_write(path, lambda f: stuck(lambda: (f.write(data[:len(data) // 2]), f.flush())))

if stage == "model file half written":
    np.savez = half_savez
elif stage == "model saved, live.json not yet":
    store._write_live_file = lambda name: stuck(lambda: None)
else:
    store_module.atomic_write_bytes = half_live_json
store.publish(NeuralNetWork(784, 24, 10, 0.1, seed=2))
"""


@pytest.mark.parametrize("stage", ["model file half written", "model saved, live.json not yet",
                                   "live.json half written"])
def test_a_publisher_killed_mid_publish_leaves_a_working_live_model(tmp_path, small_mnist, stage):
    folder = weights_copy(tmp_path / "weights", small_mnist)
    publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(folder), stage], cwd=PROJECT_DIR,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert publisher.stdout.readline().strip() == "ready", publisher.stderr.read()
    finally:
        publisher.kill()
        publisher.wait(30)
        publisher.stdout.close()
        publisher.stderr.close()
    store = ModelStore(folder)  # what the next server start sees
    assert store.warning is None
    assert store.live().info.architecture.startswith("784-16-10")  # the first publish, whole
    assert store.live().model.predict_proba(small_mnist[1][0][:5]).shape == (5, 10)
    runs = store.runs()
    assert all(run.info is not None for run in runs)  # nothing half-written is ever listed
    expected = 3 if stage != "model file half written" else 2  # the second file is whole once saved
    assert len(runs) == expected
    if "half written" in stage:  # it really died mid-write: its temporary file is left, and ignored
        assert list(folder.rglob(".*.tmp"))


# ---------------------------------------------------------------------------- housekeeping


def test_stale_temporary_files_are_removed_at_start_and_fresh_ones_kept(folder, caplog):
    runs = folder / "runs"
    runs.mkdir()
    stale = [runs / ".20250101T120000Z-numpy-0123abcd.npz.k2x_9qz1.tmp", folder / ".live.json.a1b2c3d4.tmp"]
    fresh = runs / ".20250101T120001Z-numpy-4567abcd.npz.zz9_8yx7.tmp"  # a publish writing right now
    others = [folder / ".notes.tmp", runs / "notes.tmp", folder / "default.npz"]  # not atomic_write's
    for path in stale + [fresh] + others[:2]:
        path.write_bytes(b"x" * 1000)
    old = time.time() - STALE_TEMP_SECONDS - 60
    for path in stale + others:
        os.utime(path, (old, old))
    with caplog.at_level(logging.INFO, logger="mnistlab"):
        store = ModelStore(folder)
    assert not any(path.exists() for path in stale)
    assert fresh.exists() and all(path.exists() for path in others)
    assert "removed 2 stale temporary files" in caplog.text
    assert store.live().is_default  # and the store works as ever


def ticking_clock(monkeypatch, seconds_per_tick: int) -> None:
    """The store's clock moves `seconds_per_tick` at each reading (negative: a clock set back)."""
    start, ticks = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC), itertools.count()
    monkeypatch.setattr(store_module, "_now", lambda: start + dt.timedelta(seconds=seconds_per_tick * next(ticks)))


def run_files(folder):
    return sorted(p.name for p in (folder / "runs").iterdir())


def test_publish_keeps_only_the_newest_runs(make, folder, models, monkeypatch, caplog):
    assert RUNS_KEPT == 20 and make(folder).runs_kept == RUNS_KEPT
    ticking_clock(monkeypatch, 10)
    store = make(folder, runs_kept=2)
    names = [store.publish(models[i % 3]).name for i in range(3)]
    assert run_files(folder) == names[1:]
    with caplog.at_level(logging.INFO, logger="mnistlab"):
        names.append(store.publish(models[0]).name)
    assert run_files(folder) == names[2:] and store.live().name == names[-1]
    assert "removed 1 old run file" in caplog.text
    assert [run.name for run in store.runs()] == [names[3], names[2], DEFAULT_NAME]  # the default stays
    assert make(folder).live().name == names[-1]


def test_pruning_never_removes_the_live_run(make, folder, models, monkeypatch):
    """With the clock set back, each new run's name sorts oldest; the live one is kept regardless."""
    ticking_clock(monkeypatch, -10)
    store = make(folder, runs_kept=1)
    names = [store.publish(m).name for m in models]
    assert names == sorted(names, reverse=True)
    assert run_files(folder) == sorted([names[0], names[-1]])  # newest by name, and the live one
    assert store.live().name == names[-1] and make(folder).warning is None


def test_pruning_holds_the_change_lock(folder, models, monkeypatch):
    """A make_live of a file being removed must wait for the removal (then it says the file is gone)."""
    ticking_clock(monkeypatch, 10)
    store = ModelStore(folder, runs_kept=1)
    held = []
    real = store._remove_old_runs
    monkeypatch.setattr(store, "_remove_old_runs", lambda: held.append(store._change_lock.locked()) or real())
    first = store.publish(models[0]).name
    store.publish(models[1])
    assert held == [True, True]
    with pytest.raises(ModelFileError, match="no such model file"):
        store.make_live(first)


@pytest.mark.parametrize("kept", [0, -1, True, 2.5, "20", None])
def test_runs_kept_must_be_a_whole_number_from_one(make, folder, kept):
    with pytest.raises(ValueError, match="runs_kept"):
        make(folder, runs_kept=kept)


# ---------------------------------------------------------------------------- several processes, one folder


def test_a_model_made_live_by_another_store_is_served_here(make, folder, models):
    """Two stores on one folder stand for two server processes (tests/test_processes.py has real ones)."""
    here, there = make(folder, check_every=0), make(folder, check_every=0)
    published = there.publish(models[1])
    live = here.live()
    assert live.name == published.name and live.info == models[1].info and here.warning is None
    assert live.model.predict_proba(np.zeros((1, 784))).shape == (1, 10)
    there.make_live(DEFAULT_NAME)
    assert here.live().is_default and here.live().version == 3  # each change is a new version here too
    assert [run.live for run in here.runs()] == [False, True]  # the list agrees with the live model


def test_a_store_looks_at_live_json_at_most_every_check_every_seconds(folder, models, monkeypatch):
    here, there = ModelStore(folder, check_every=60), ModelStore(folder)
    stats = []
    real_stat = type(here.live_file).stat
    monkeypatch.setattr(type(here.live_file), "stat",
                        lambda path, *a, **k: stats.append(path) or real_stat(path, *a, **k))
    there.publish(models[0])
    stats.clear()
    for _ in range(100):
        assert here.live().is_default  # not looked at yet: within the minute
    assert stats.count(here.live_file) == 0
    here._checked -= 61  # a minute later
    assert here.live().name == there.live().name and stats.count(here.live_file) >= 1


def test_a_model_another_store_cannot_share_keeps_the_old_one_with_a_warning(folder, models):
    here, there = ModelStore(folder, check_every=0), ModelStore(folder, check_every=0)
    published = there.publish(models[0])
    (folder / "runs" / published.name).write_bytes(b"not a model")  # damaged before this store loads it
    live = here.live()
    assert live.is_default and "could not be loaded" in here.warning
    assert here.live() is live  # tried once per change of live.json, not at every call
