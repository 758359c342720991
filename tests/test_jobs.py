"""The training slot: one run at a time, progress, stop, failure, publishing; and the estimates."""
import threading

import pytest

from mnistcore.jobs import (FAILED, FINISHED, RUNNING, STOPPED, SlotBusy, TrainingSlot, describe_seconds,
                            engine_problem, estimate_seconds)
from mnistcore.models import Progress
from mnistcore.store import ModelStore
from mnistcore.training import TrainResult, TrainSettings
from sitetools import weights_copy

QUICK = TrainSettings(epochs=2, batch_size=64, hidden=16, train_limit=1000)


@pytest.fixture
def store(tmp_path, small_mnist):
    return ModelStore(weights_copy(tmp_path / "weights", small_mnist))


def blocking_train(release: threading.Event, model):
    """A stand-in for run_training that reports batches until released or told to stop."""

    def train(settings, data, on_batch=None, on_epoch=None):
        seen = 0
        while not release.wait(0.005):
            seen += 1
            if on_batch(Progress(1, settings.epochs, seen, 10_000, 1.0, 0.5, 0.0)):
                return TrainResult(model, None, True, [])
        return TrainResult(model, None, False, [])

    return train


def test_a_run_trains_in_the_background_and_reports_progress(small_mnist, store):
    slot = TrainingSlot()
    before = store.live()
    job = slot.start(QUICK, small_mnist, owner="Ada")
    assert slot.wait(60)
    status = slot.status()
    assert status.job_id == job and status.owner == "Ada" and status.settings == QUICK
    assert status.state == FINISHED and status.fraction == 1.0 and status.finished_at >= status.started_at
    assert [p.epoch for p in status.history] == [1, 2]
    assert all(0 <= p.test_accuracy <= 1 and p.loss > 0 for p in status.history)
    assert status.batch_loss is not None and status.error is None
    result = slot.result(job)
    assert status.test_accuracy == result.evaluation.accuracy > 0.5
    assert status.can_publish and store.live() is before  # nothing is live until published
    name = slot.publish(job, store)
    assert store.live().name == name and store.live().info == result.model.info
    assert slot.status().published_as == name and not slot.status().can_publish
    with pytest.raises(ValueError, match="already published"):
        slot.publish(job, store)


def test_only_one_run_at_a_time(small_mnist, store):
    release = threading.Event()
    slot = TrainingSlot(train=blocking_train(release, store.live().model))
    slot.start(QUICK, small_mnist, owner="Ada")
    try:
        with pytest.raises(SlotBusy, match="Ada is training"):
            slot.start(QUICK, small_mnist, owner="Grace")
        assert slot.busy() and slot.status().state == RUNNING and slot.status().owner == "Ada"
    finally:
        release.set()
    assert slot.wait(10)
    slot.start(QUICK, small_mnist, owner="Grace")  # free again once the run has ended
    assert slot.wait(60) and slot.status().owner == "Grace"


def test_a_failing_run_releases_the_slot_and_says_why(small_mnist):
    def broken(settings, data, on_batch=None, on_epoch=None):
        raise RuntimeError("out of memory, say")

    slot = TrainingSlot(train=broken)
    job = slot.start(QUICK, small_mnist, owner="Ada")
    assert slot.wait(10)
    status = slot.status()
    assert status.job_id == job and status.state == FAILED and "out of memory, say" in status.error
    assert not slot.busy() and not status.can_publish and slot.result(job) is None
    with pytest.raises(ValueError, match="no finished model"):
        slot.publish(job, None)
    slot.start(QUICK, small_mnist, owner="Grace")  # the slot is free for the next person
    assert slot.wait(10) and slot.status().owner == "Grace" and slot.status().state == FAILED


def test_stop_ends_a_real_run_at_the_next_batch_and_leaves_the_live_model(small_mnist, store):
    slot = TrainingSlot()
    before = store.live()
    live_file = store.live_file.read_bytes() if store.live_file.exists() else None
    # Batch size 1 over 30 epochs: far too long to finish before the stop arrives.
    settings = TrainSettings(epochs=30, batch_size=1, hidden=16, train_limit=1000)
    job = slot.start(settings, small_mnist, owner="Ada")
    pause = threading.Event()
    while slot.status().batch_loss is None and slot.busy():  # until training has really begun
        pause.wait(0.01)
    assert slot.stop(job)
    assert slot.wait(30)
    status = slot.status()
    assert status.state == STOPPED and status.fraction < 0.5 and len(status.history) < 30
    assert slot.result(job).stopped
    assert store.live() is before
    assert (store.live_file.read_bytes() if store.live_file.exists() else None) == live_file
    assert not slot.stop(job)  # nothing left to stop


def test_stop_only_applies_to_the_run_it_names(small_mnist, store):
    release = threading.Event()
    slot = TrainingSlot(train=blocking_train(release, store.live().model))
    job = slot.start(QUICK, small_mnist, owner="Ada")
    assert not slot.stop("someone-elses-run")
    assert slot.stop(job)
    assert slot.wait(10)
    assert slot.status().state == STOPPED and not slot.status().can_publish  # no complete epoch


def test_status_is_a_consistent_snapshot_while_training(small_mnist):
    slot = TrainingSlot()
    slot.start(TrainSettings(epochs=3, batch_size=32, hidden=16, train_limit=1000), small_mnist, owner="Ada")
    snapshots = []
    while slot.busy():
        snapshots.append(slot.status())
    snapshots.append(slot.status())
    fractions = [s.fraction for s in snapshots]
    assert fractions == sorted(fractions)  # progress never goes backwards
    for s in snapshots:
        assert len(s.history) <= s.settings.epochs and (s.state == RUNNING) == (s.finished_at is None)


def test_start_refuses_bad_settings_before_starting(small_mnist):
    slot = TrainingSlot()
    with pytest.raises(ValueError, match="epochs must be a whole number from 1 to 30"):
        slot.start(TrainSettings(epochs=99), small_mnist, owner="Ada")
    assert slot.status() is None


def test_estimates_follow_the_measured_costs():
    default = estimate_seconds(TrainSettings(epochs=1))
    assert 0.5 < default < 3  # ~1 s per epoch for 784-512-10 at batch 128 on 60,000 images
    assert estimate_seconds(TrainSettings(epochs=10)) == pytest.approx(10 * default)
    tutorial = estimate_seconds(TrainSettings(epochs=1, batch_size=1, hidden=200, activation="sigmoid",
                                              momentum=0.0))
    assert tutorial > 8  # per-sample updates are slow: the tutorial's 10+ s per epoch
    assert estimate_seconds(TrainSettings(epochs=1, train_limit=6000)) < default / 5
    mlp = estimate_seconds(TrainSettings(engine="keras", arch="mlp", epochs=1))
    cnn = estimate_seconds(TrainSettings(engine="keras", arch="cnn", epochs=1))
    assert 2 < mlp < cnn and cnn > 20


@pytest.mark.parametrize("seconds, words", [(3, "a few seconds"), (42, "about 40 seconds"),
                                            (200, "about 3 minutes"), (3900, "about 1 hour 5 minutes"),
                                            (7200, "about 2 hours")])
def test_durations_read_like_speech(seconds, words):
    assert describe_seconds(seconds) == words


def test_engine_problem_is_none_for_numpy():
    assert engine_problem(TrainSettings()) is None
    problem = engine_problem(TrainSettings(engine="keras"))
    assert problem is None or "not available" in problem
