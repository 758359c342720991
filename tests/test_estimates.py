"""Estimates: the cost model counts the batch size for every network, and a start-up probe scales
it to this machine before any run has been timed here."""
import pytest

from mnistcore.training import Timings, TrainSettings, estimate_phases, recipes
from mnistcore.training.timing import probe


def test_the_convnets_estimate_grows_as_its_batches_shrink():
    seconds = [sum(estimate_phases(TrainSettings.for_network("numpy", "cnn", epochs=1, batch_size=b)))
               for b in (1, 4, 128)]
    assert seconds[0] > seconds[1] > seconds[2]


def test_a_probe_scales_the_estimates_of_its_network_once(tmp_path, small_mnist):
    timings = Timings(tmp_path / "timings.json")
    settings = recipes()["quick"].settings
    before = sum(estimate_phases(settings, 60_000, timings))
    ratio = probe(settings, small_mnist, timings, images=128)
    assert ratio is not None and ratio > 0
    factor = timings.slowdown(settings)
    assert factor == pytest.approx(min(max(ratio, 0.25), 8.0))
    assert sum(estimate_phases(settings, 60_000, timings)) == pytest.approx(before * factor)
    other = TrainSettings(epochs=1, batch_size=4, hidden=64)  # same network, another shape: scaled too
    assert timings.slowdown(other) == factor
    assert probe(settings, small_mnist, timings, images=128) is None  # known now: not probed again
    assert probe(other, small_mnist, timings, images=128) is not None  # another shape is probed on its own
    assert timings.slowdown(other) == factor  # the first probe's slowdown stays


def test_a_bad_probe_ratio_or_pace_is_refused(tmp_path):
    with pytest.raises(ValueError, match="positive"):
        Timings(tmp_path / "t.json").record_slowdown(TrainSettings(), 0.0)
    with pytest.raises(ValueError, match="positive"):
        Timings(tmp_path / "t.json").record_pace(TrainSettings(), float("nan"))
