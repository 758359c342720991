"""Many visitors at once: readers predicting with the live model while others publish and go back.

Every snapshot a reader takes must be one whole model: its name, its info and its weights from the
same publish, and its predictions exactly those of that model. The threads run a fixed number of
steps (no time limits), started together by a barrier so they really overlap.
"""
import queue
import threading

import numpy as np
import pytest

from mnistcore.lab.slot import QueueFull, TrainingSlot
from mnistcore.nets import load_model, read_info
from mnistcore.lab.store import DEFAULT_NAME, ModelStore
from mnistcore.training import TrainSettings
from sitetools import tiny_model, weights_copy

READERS = 4
ROUNDS = 8           # each round: publish, make an earlier run live, make the default live
MAX_READS = 20_000   # a reader's bound, should the writer somehow never finish


@pytest.fixture(scope="module")
def models(small_mnist):
    """Three small networks of different sizes: each one's architecture names it."""
    return [tiny_model(small_mnist, hidden=h, samples=500, seed=h) for h in (16, 24, 32)]


def test_readers_always_see_one_whole_model_while_others_publish_and_revert(tmp_path, small_mnist, models):
    (_, _), (x_test, y_test) = small_mnist
    images, labels = x_test[:200], y_test[:200]
    folder = weights_copy(tmp_path / "weights", small_mnist)
    store = ModelStore(folder)
    default = load_model(folder / "default.npz")
    # What each model must answer, by architecture: a torn snapshot would answer something else.
    expected = {m.info.architecture: m.predict_proba(images) for m in [default] + models}
    assert len(expected) == 4
    names = [store.publish(m).name for m in models]
    store.make_live(DEFAULT_NAME)

    start = threading.Barrier(READERS + 1)
    writer_done = threading.Event()
    errors, seen = [], [[] for _ in range(READERS)]

    def read(n: int) -> None:
        known = {}  # run name -> architecture, read from its file once
        try:
            start.wait()
            for _ in range(MAX_READS):
                finished = writer_done.is_set()
                live = store.live()
                architecture = live.info.architecture
                assert live.model.info is live.info
                if live.name not in known:
                    known[live.name] = read_info(store.path_of(live.name)).architecture
                assert known[live.name] == architecture, (live.name, architecture)
                proba = live.model.predict_proba(images)
                np.testing.assert_array_equal(proba.argmax(axis=1), expected[architecture].argmax(axis=1))
                np.testing.assert_allclose(proba, expected[architecture], atol=1e-6)
                if n == 0:  # one reader also uses the shared evaluation, cached by snapshot id
                    evaluation = store.evaluation(live, images, labels)
                    np.testing.assert_array_equal(evaluation.predictions, expected[architecture].argmax(axis=1))
                seen[n].append(live.version)
                if finished:
                    break  # one more read after the writer's last change, then stop
        except Exception as err:  # noqa: BLE001 - reported to the main thread below
            errors.append(err)
            start.abort()

    readers = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
    for thread in readers:
        thread.start()
    try:
        start.wait()
        for round_ in range(ROUNDS):
            names.append(store.publish(models[round_ % 3]).name)
            store.make_live(names[round_ % 3])
            store.make_live(DEFAULT_NAME)
    finally:
        writer_done.set()
        for thread in readers:
            thread.join(60)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in readers)
    for versions in seen:
        assert versions == sorted(versions)  # nobody ever sees an older model after a newer one
    assert len({v for versions in seen for v in versions}) > 1  # the readers really saw the changes
    assert max(max(versions) for versions in seen) == store.live().version == 1 + 3 + 3 * ROUNDS + 1
    # And on disk: every published file whole, live.json naming the model in memory.
    restarted = ModelStore(folder)
    assert restarted.live().name == store.live().name == DEFAULT_NAME and restarted.warning is None
    assert all(run.info is not None for run in restarted.runs())
    assert len(restarted.runs()) == 3 + ROUNDS + 1


def test_many_visitors_start_one_run_between_them(small_mnist):
    """Visitors asking for a run at the same moment: one starts, the others queue or are refused."""
    release = threading.Event()
    began = queue.Queue()

    def train(settings, data, on_batch=None, on_epoch=None):
        began.put(threading.current_thread().name)
        release.wait(30)  # until the test has looked
        raise RuntimeError("a stand-in: no model")

    slot = TrainingSlot(train=train, queue_size=3)
    settings = TrainSettings(epochs=1, hidden=16, train_limit=100)
    start = threading.Barrier(8)
    outcomes = []

    def visit(n: int) -> None:
        start.wait()
        try:
            slot.submit(settings, small_mnist, owner=f"visitor-{n}")
            outcomes.append("accepted")
        except QueueFull:
            outcomes.append("queue full")

    visitors = [threading.Thread(target=visit, args=(n,)) for n in range(8)]
    for thread in visitors:
        thread.start()
    for thread in visitors:
        thread.join(30)
    try:
        assert sorted(outcomes) == ["accepted"] * 4 + ["queue full"] * 4  # one running, three waiting
        began.get(timeout=10)
        assert began.empty() and len(slot.queue()) == 3 and slot.busy()
    finally:
        release.set()
    assert slot.wait(30)
    assert began.qsize() == 3 and slot.queue() == ()  # each accepted request ran, one after another
