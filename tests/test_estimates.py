"""Estimates: the cost model counts the batch size for every network, and a start-up probe measures
each recipe's network on this machine, at a few batch sizes, before any run has been timed here."""
import threading

import pytest

from mnistcore.training import POINTS_FIRST_EPOCH, POINTS_PER_EPOCH, Timings, TrainSettings, estimate_phases, recipes
from mnistcore.training import run as run_module
from mnistcore.training import timing
from mnistcore.training.timing import Probed, probe, probe_key, shape_key


def test_the_convnets_estimate_grows_as_its_batches_shrink():
    seconds = [sum(estimate_phases(TrainSettings.for_network("numpy", "cnn", epochs=1, batch_size=b)))
               for b in (1, 4, 128)]
    assert seconds[0] > seconds[1] > seconds[2]


def test_a_probe_measures_its_network_once_and_scales_the_others(tmp_path, small_mnist, monkeypatch):
    monkeypatch.setattr(timing, "PROBE_SECONDS", 0.0)  # one timing per batch size
    timings = Timings(tmp_path / "timings.json")
    settings = recipes()["quick"].settings
    before = sum(estimate_phases(settings, 60_000, timings))
    calls = []
    ratio = probe(settings, small_mnist, timings, images=64, on_batch=lambda p: calls.append(p.samples_seen),
                  finish=lambda model: calls.append("finish"), batches=(1, 16))
    assert ratio is not None and ratio > 0
    # The caller's work after every batch is timed with the batches: 64 at batch 1, 4 at 16, 2 at 128 (256 images).
    assert len([c for c in calls if c != "finish"]) == 64 + 4 + 2 and calls.count("finish") == 1
    probed = timings.probed(settings)
    assert sorted(probed.paces) == [1, 16, 128] and probed.forward > 0
    assert timings.companion_seconds() is not None
    assert sum(estimate_phases(settings, 60_000, timings)) != pytest.approx(before)
    factor = timings.slowdown(settings)
    assert factor == pytest.approx(min(max(ratio, 0.25), 8.0))
    other = TrainSettings(epochs=1, batch_size=4, hidden=64)  # same engine and architecture, never probed: scaled
    assert timings.slowdown(other) == factor and timings.probed(other) is None
    assert probe(settings, small_mnist, timings, images=64, batches=(1,)) is None  # known now: not probed again
    assert probe(other, small_mnist, timings, images=64, batches=(1,), finish=lambda m: calls.append("finish")) \
        is not None  # another network is probed on its own...
    assert calls.count("finish") == 1  # ...but the companion's fit is timed once per server
    assert timings.slowdown(other) == factor  # the first probe's slowdown stays
    # Every batch size shares the probe: 4 lies between the probed 1 and 16.
    assert probe_key(TrainSettings(batch_size=4, hidden=64)) == probe_key(other) != probe_key(settings)
    assert shape_key(TrainSettings(batch_size=4, hidden=64)) != shape_key(TrainSettings(batch_size=128, hidden=64))


def test_a_probe_times_a_quick_network_again_and_again(tmp_path, small_mnist, monkeypatch):
    monkeypatch.setattr(timing, "PROBE_SECONDS", 60.0)  # never reached: every size timed PROBE_TIMINGS times
    calls = []
    probe(recipes()["quick"].settings, small_mnist, Timings(tmp_path / "timings.json"), images=64,
          on_batch=lambda p: calls.append(p.samples_seen), batches=(16,))
    assert len(calls) == timing.PROBE_TIMINGS * (4 + 2) and timing.PROBE_TIMINGS > 1  # 4 batches of 16, 2 of 128


def test_the_start_up_probe_stops_at_its_next_batch_when_the_process_exits(tmp_path, monkeypatch, caplog):
    from mnistcore.lab import services
    monkeypatch.setattr(services, "_PROBE_ENDING", threading.Event())
    seen, bookkeeping = [], services.slot_bookkeeping

    def counted(settings):
        inner = bookkeeping(settings)

        def on_batch(progress):
            seen.append(progress)
            if len(seen) == 3:
                services._PROBE_ENDING.set()  # what the exit handler does, in the middle of the probe
            return inner(progress)
        return on_batch

    monkeypatch.setattr(services, "slot_bookkeeping", counted)
    timings = Timings(tmp_path / "timings.json")
    prober = threading.Thread(target=services.probe_networks, args=(timings,))  # its own thread, as the lab's
    prober.start()
    prober.join(timeout=120)
    assert not prober.is_alive() and len(seen) == 3  # stopped at the next batch: no fourth
    assert all(timings.probed(r.settings) is None for r in recipes().values())  # nothing half-timed was kept
    assert "failed" not in caplog.text  # an exit is no failure


def test_a_server_whose_networks_are_timed_starts_no_probe_work(tmp_path, monkeypatch):
    from probed import probed_already

    from mnistcore.lab import services

    loaded = []
    monkeypatch.setattr(services, "mnist", lambda: loaded.append(1))  # the probe's first step, when it has work
    services.probe_networks(Timings(probed_already(tmp_path / "timings.json")))
    assert not loaded


def test_an_estimate_from_a_probe_counts_every_part_of_a_run(tmp_path):
    timings = Timings(tmp_path / "timings.json")
    settings = TrainSettings.for_network("numpy", "cnn", epochs=3, batch_size=128)
    timings.record_probe(settings, Probed({1: 2e-3, 128: 2e-4}, 1e-4))
    timings.record_companion(1.0)
    epochs = 3 * 60_000 * 2e-4
    tests = (3 * 10_000 + (7 + 3 + 3) * 1_000) * 1e-4  # after each epoch; curve points inside them
    finish = (10_000 + timing.COMPANION_IMAGES) * 1e-4 + 1.0  # the final test, the companion's drawings, its fit
    assert estimate_phases(settings, 60_000, timings) == (0.0, pytest.approx(epochs + tests + finish))
    # A finished run of this shape knows better: its pace (tests included) and what its end took.
    timings.record(settings, 60_000, 60_000 * 3e-4, 0.0, cold=False, finish=5.0)
    assert estimate_phases(settings, 60_000, timings)[1] == pytest.approx(3 * 60_000 * 3e-4 + 5.0)


def test_a_probed_pace_between_two_batch_sizes_follows_their_weight_updates():
    # 1e-4 s per image and 1e-3 s per update, measured at 1, 8 and 64.
    probed = Probed({size: 1e-4 + 1e-3 / size for size in (1, 8, 64)}, 1e-5)
    for batch in (1, 2, 4, 8, 30, 64):
        assert probed.pace(batch) == pytest.approx(1e-4 + 1e-3 / batch)
    assert probed.pace(1024) == probed.paces[64]  # beyond the largest probed: its pace
    odd = Probed({1: 5e-5, 2: 2e-4, 16: 1e-4}, 1e-5)  # the tutorial's one-image path is cheaper than batch 2
    assert odd.pace(1) == 5e-5 and odd.pace(2) == 2e-4 and 1e-4 < odd.pace(8) < 2e-4


def test_the_estimate_counts_the_curve_points_the_run_scores():
    assert timing.CURVE_POINTS == (POINTS_FIRST_EPOCH - 1, POINTS_PER_EPOCH - 1)  # the epoch's end is its test
    assert timing.CURVE_IMAGES == run_module.CURVE_SAMPLE
    assert timing.COMPANION_IMAGES == timing.FIT_DIGITS + min(timing.FIT_OTHERS, run_module.OPEN_SET_IMAGES)


def test_a_bad_probe_or_companion_time_is_refused(tmp_path):
    timings = Timings(tmp_path / "t.json")
    with pytest.raises(ValueError, match="positive"):
        timings.record_slowdown(TrainSettings(), 0.0)
    with pytest.raises(ValueError, match="positive"):
        timings.record_probe(TrainSettings(), Probed({1: float("nan")}, 1e-5))
    with pytest.raises(ValueError, match="from 0 up, got -1"):
        timings.record_companion(-1)
    assert timings.probed(TrainSettings()) is None and timings.companion_seconds() is None


def test_the_slot_bookkeeping_a_probe_times_follows_the_run_and_never_stops_it():
    from mnistcore.lab.services import slot_bookkeeping
    from mnistcore.nets.base import Progress

    on_batch = slot_bookkeeping(recipes()["tutorial"].settings)
    for seen in range(1, 200):
        assert on_batch(Progress(1, 5, seen, 300_000, 0.5, 0.9, seen * 1e-4)) is False
