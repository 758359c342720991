"""How long a training run takes on this server: estimates before it starts, and `Timings`, which
remembers how long runs took here so that the next estimate tells the truth.

An estimate counts what a run does: its epochs (training at the batch size, the tests after each
epoch, the curve points inside them), then the final test and fitting the model's companion. The
figures come from the runs measured on this server where there are any; else from a start-up probe
of the network (a few batches at a few batch sizes, a forward pass, the companion's fit); else from
the registry's costs on a quiet server, scaled by how much slower than them this server has been.
"""
from __future__ import annotations

import json
import math
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..augment import ROBUST, make_augment
from ..files import atomic_write_bytes
from ..i18n import gettext as _
from ..i18n import ngettext
from ..nets.base import Callback, DigitModel
from ..openset import FIT_DIGITS, FIT_OTHERS
from .settings import TrainSettings, new_model

TEST_IMAGES = 10_000                 # scored after every epoch, and once more at the end (evaluate)
CURVE_POINTS = (7, 3)                # curve points inside the first and each later epoch (run.POINTS_* less the end)
CURVE_IMAGES = 1_000                 # test images a curve point scores (run.CURVE_SAMPLE)
COMPANION_IMAGES = FIT_DIGITS + FIT_OTHERS  # drawings the open-set companion reads after the last epoch
COMPANION_SECONDS = 1.5              # the companion's fit besides reading them, until a probe has timed it here
ROBUST_PER_SAMPLE = 5e-6             # distorting 30% of each batch (bench/handwriting.py measures it)


def estimate_seconds(settings: TrainSettings, train_samples: int = 60_000, timings: Timings | None = None) -> float:
    """Expected wall-clock seconds for a run with these settings on this server.

    From `timings` (runs measured on this server, else a start-up probe of the network) where it
    knows this shape of run, else from the registry's costs. Loading TensorFlow is counted only for
    networks that need it, while it is not loaded.
    """
    return sum(estimate_phases(settings, train_samples, timings))


def estimate_phases(settings: TrainSettings, train_samples: int = 60_000,
                    timings: Timings | None = None) -> tuple[float, float]:
    """(seconds before the first batch, seconds from it to the result), as estimate_seconds.

    The second part is the epochs (their training, test scoring and curve points) and what a run does
    after its last epoch: the final test and fitting the model's open-set companion.
    """
    network = settings.validate().network
    n = min(train_samples, settings.train_limit or train_samples)
    warm = "tensorflow" in sys.modules
    start = network.start_seconds[1 if warm else 0]
    measured = timings.lookup(settings, cold=not warm) if timings is not None else None
    probed = timings.probed(settings) if timings is not None else None
    ran = timings.finish(settings) if timings is not None else None
    fit = timings.companion_seconds() if timings is not None else None
    if measured is not None:
        per_sample, measured_start = measured
        if network.tensorflow and measured_start is not None:  # loading TensorFlow: worth timing
            start = measured_start
        epochs = settings.epochs * n * per_sample  # the tests and curve points included
        if ran is not None:
            return start, epochs + ran
        forward = probed.forward if probed is not None else _modelled_forward(settings) * timings.slowdown(settings)
        return start, epochs + _finish(forward, fit, 1.0)
    if probed is not None:
        forward = probed.forward
        epochs = n * settings.epochs * probed.pace(int(settings.batch_size)) + scored_images(settings.epochs) * forward
        return start, epochs + (ran if ran is not None else _finish(forward, fit, 1.0))
    # Never timed in this shape: the model's figures, times how much slower than the model this
    # server has been for the same engine and architecture (the registry gives a quiet server's costs).
    slower = timings.slowdown(settings) if timings is not None else 1.0
    forward = _modelled_forward(settings)
    epochs = settings.epochs * _trained(settings, n) + scored_images(settings.epochs) * forward
    return start, slower * epochs + (ran if ran is not None else _finish(forward * slower, fit, slower))


def scored_images(epochs: int) -> int:
    """Test images a run scores in its epochs (the tests after each, the curve points inside them)."""
    first, later = CURVE_POINTS
    return epochs * TEST_IMAGES + (first + later * (epochs - 1)) * CURVE_IMAGES


def _finish(forward: float, fit: float | None, slower: float) -> float:
    """Seconds after the last epoch: the final test, the companion's drawings read and its fit
    (`fit` as timed here, else the default times `slower`); `forward`: seconds per image read."""
    return (TEST_IMAGES + COMPANION_IMAGES) * forward + (COMPANION_SECONDS * slower if fit is None else fit)


def modelled_epoch(settings: TrainSettings, n: int) -> float:
    """Seconds for one epoch of `n` images on a quiet server, by the registry's cost model: its
    training, and its tests and curve points (an epoch's share of them)."""
    return _trained(settings, n) + scored_images(1) * _modelled_forward(settings)


def _trained(settings: TrainSettings, n: int) -> float:
    per_image, per_update = settings.network.costs(settings)
    steps = -(-n // int(settings.batch_size))  # mini-batches per epoch, rounded up
    return per_image * n + steps * per_update + (n * ROBUST_PER_SAMPLE if settings.robust else 0.0)


def _modelled_forward(settings: TrainSettings) -> float:
    """Reading one image (testing, curve points, the companion): a third of training on it."""
    return settings.network.costs(settings)[0] / 3


PROBE_IMAGES = 128   # images a start-up probe trains on at each batch size (at least two batches): ~1 s in all
PROBE_SECONDS = 0.2  # ...timed again until this much has passed (up to PROBE_TIMINGS times), the median taken:
PROBE_TIMINGS = 5    # one 10 ms timing of the tutorial's network was 30% off the run it estimated
PROBE_BATCHES = (1, 4, 32, 256)  # batch sizes a probe times; others are interpolated between them


@dataclass(frozen=True)
class Probed:
    """What a start-up probe measured for one network: seconds per training image at some batch
    sizes (with the caller's work after every batch), and per image read (a forward pass)."""

    paces: dict[int, float]
    forward: float

    def pace(self, batch: int) -> float:
        """Seconds per training image at `batch`: between two probed sizes, a + c / batch through
        both (a per image, c per weight update); beyond the largest, the largest's."""
        sizes = sorted(self.paces)
        if batch <= sizes[0] or len(sizes) == 1:
            return self.paces[sizes[0]]
        if batch >= sizes[-1]:
            return self.paces[sizes[-1]]
        high = next(size for size in sizes if size >= batch)
        low = sizes[sizes.index(high) - 1]
        per_update = (self.paces[low] - self.paces[high]) / (1 / low - 1 / high)
        return self.paces[high] + per_update * (1 / batch - 1 / high)


def probe(settings: TrainSettings, data, timings: Timings, images: int = PROBE_IMAGES,
          on_batch: Callback | None = None, finish: Callable[[DigitModel], object] | None = None,
          batches: tuple[int, ...] = PROBE_BATCHES) -> float | None:
    """Time a fresh model of `settings` here at a few batch sizes, so that estimates are honest from
    the first run on a new server; returns the measured over the modelled seconds per image at the
    settings' batch size (None when this network was probed here already).

    `data`: load_mnist()'s ((x_train, y_train), (x_test, y_test)). `on_batch`: the work the server
    does after every batch of a run (the slot's bookkeeping), timed with the batches. `finish`:
    what a run does after its last epoch (fitting the companion), timed once per server.
    Recorded in `timings`: the paces and the forward pass for this network (`Timings.probed`), the
    engine and architecture's slowdown against the cost model where none is known yet (which scales
    the cost model for the networks never probed), and the companion's own seconds.
    """
    if timings.probed(settings) is not None:
        return None
    (x_train, y_train), (x_test, _) = data
    augment = make_augment(ROBUST) if settings.robust else None
    paces = {}
    for batch in sorted({*batches, int(settings.batch_size)}):
        n = min(len(x_train), max(images, 2 * batch))
        batch = min(batch, n)
        model = new_model(settings)  # fresh at each size: settings meant for big batches may blow up at 1
        # The first batches pay for allocations and caches: not timed.
        model.fit(x_train[:batch], y_train[:batch], epochs=1, batch_size=batch, augment=augment)
        timed = []
        while not timed or (sum(timed) < PROBE_SECONDS and len(timed) < PROBE_TIMINGS):
            started = time.perf_counter()
            model.fit(x_train[:n], y_train[:n], epochs=1, batch_size=batch, on_batch=on_batch, augment=augment)
            timed.append(time.perf_counter() - started)
        paces[batch] = statistics.median(timed) / n
    started = time.perf_counter()
    model.predict_proba(x_test[:CURVE_IMAGES])
    forward = (time.perf_counter() - started) / CURVE_IMAGES
    probed = Probed(paces, forward)
    if finish is not None and timings.companion_seconds() is None:
        started = time.perf_counter()
        finish(model)
        timings.record_companion(max(0.0, time.perf_counter() - started - COMPANION_IMAGES * forward))
    per_image, per_update = settings.network.costs(settings)
    batch = int(settings.batch_size)
    ratio = probed.pace(batch) / (per_image + per_update / batch + (ROBUST_PER_SAMPLE if settings.robust else 0.0))
    timings.record_slowdown(settings, ratio)
    timings.record_probe(settings, probed)
    return ratio


def probe_key(settings: TrainSettings) -> str:
    """Runs of one network that a probe times together, whatever their batch size: shape_key less the batch."""
    return f"{_network_key(settings)}{'/robust' if settings.robust else ''}"


def shape_key(settings: TrainSettings) -> str:
    """Runs that cost the same per image share a key: engine, architecture, its network's shape, batch bucket.

    Batch sizes are bucketed by powers of 2 (3-4, 5-8, ..., 65-128, ...): the cost per image
    changes with the number of weight updates, which halves as the batch doubles.
    """
    bucket = 1 << max(0, int(settings.batch_size) - 1).bit_length()
    robust = "/robust" if settings.robust else ""  # distorting the batches costs time of its own
    return f"{_network_key(settings)}/b{bucket}{robust}"


def _network_key(settings: TrainSettings) -> str:
    shape = settings.network.shape
    more = f"/{shape(settings)}" if shape is not None else ""  # e.g. the MLP's width and learning rule
    return f"{settings.engine}/{settings.arch}{more}"


MAX_SHAPES = 200  # shapes of run the timings file remembers (a few kB)
MIN_TIMED_SAMPLES = 5_000           # shorter runs are not timed (MNISTLAB_TRAIN_LIMIT runs, tests)
MIN_SLOWDOWN, MAX_SLOWDOWN = 0.25, 8.0  # how far this server may be from the cost model above


class Timings:
    """Seconds per training image measured on this server, by shape of run; a small JSON file.

    After each run, `record` folds its pace into the file (a running mean that weighs the newest
    run most), and how long Keras took before its first batch, cold (loading TensorFlow) or warm.
    The file is rewritten atomically and holds at most `max_shapes` shapes (the least recently run
    are dropped), so visitors cannot grow it. A missing or damaged file is an empty record.
    """

    NEWEST_WEIGHT = 0.5   # how much the newest run counts against the ones before

    def __init__(self, path: str | Path, max_shapes: int = MAX_SHAPES, min_samples: int = MIN_TIMED_SAMPLES):
        self.path = Path(path)
        self.max_shapes = int(max_shapes)
        self.min_samples = int(min_samples)
        self._lock = threading.Lock()

    def read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"shapes": {}, "starts": {}}
        if not isinstance(data, dict) or not isinstance(data.get("shapes"), dict) \
                or not isinstance(data.get("starts"), dict):
            return {"shapes": {}, "starts": {}}
        return data

    def lookup(self, settings: TrainSettings, cold: bool = False) -> tuple[float, float | None] | None:
        """(seconds per training image, seconds before the first batch or None), or None if never timed."""
        data = self.read()
        entry = data["shapes"].get(shape_key(settings))
        if not isinstance(entry, dict) or not _positive(entry.get("per_sample")):
            return None
        start = data["starts"].get(f"{settings.engine}-{'cold' if cold else 'warm'}")
        return float(entry["per_sample"]), float(start) if _positive(start) else None

    def finish(self, settings: TrainSettings) -> float | None:
        """Seconds the last run of this shape took after its last epoch, or None."""
        entry = self.read()["shapes"].get(shape_key(settings))
        seconds = entry.get("finish") if isinstance(entry, dict) else None
        return float(seconds) if _positive(seconds) else None

    def slowdown(self, settings: TrainSettings) -> float:
        """Measured over modelled time, for runs of this engine and architecture (1.0 if none yet)."""
        factor = self.read().get("slowdown", {}).get(f"{settings.engine}/{settings.arch}")
        return float(factor) if _positive(factor) else 1.0

    def slowdown_known(self, settings: TrainSettings) -> bool:
        """Has this server timed runs (or a probe) of this engine and architecture?"""
        return _positive(self.read().get("slowdown", {}).get(f"{settings.engine}/{settings.arch}"))

    def record_slowdown(self, settings: TrainSettings, ratio: float) -> None:
        """A probe's measured over modelled time for this engine and architecture (`probe`), clamped
        as runs' are; kept only where nothing was known (a whole run's figure is better)."""
        if not _positive(ratio):
            raise ValueError(f"ratio must be a positive number, got {ratio!r}")
        with self._lock:
            data = self.read()
            slowdown = data.get("slowdown") if isinstance(data.get("slowdown"), dict) else {}
            kind = f"{settings.engine}/{settings.arch}"
            if _positive(slowdown.get(kind)):
                return
            slowdown[kind] = min(max(ratio, MIN_SLOWDOWN), MAX_SLOWDOWN)
            data["slowdown"] = slowdown
            self._write(data)

    def probed(self, settings: TrainSettings) -> Probed | None:
        """What a start-up probe measured for this network (any batch size), or None."""
        entry = self.read().get("probes", {}).get(probe_key(settings))
        if not isinstance(entry, dict) or not _positive(entry.get("forward")) \
                or not isinstance(entry.get("paces"), dict):
            return None
        paces = {int(size): float(pace) for size, pace in entry["paces"].items()
                 if str(size).isdigit() and int(size) > 0 and _positive(pace)}
        return Probed(paces, float(entry["forward"])) if paces else None

    def record_probe(self, settings: TrainSettings, probed: Probed) -> None:
        """A probe's figures for this network, in place of an earlier probe's."""
        if not probed.paces or not all(_positive(p) for p in [*probed.paces.values(), probed.forward]):
            raise ValueError(f"a probe's paces and forward pass must be positive numbers, got {probed!r}")
        with self._lock:
            data = self.read()
            probes = data.get("probes") if isinstance(data.get("probes"), dict) else {}
            probes.pop(probe_key(settings), None)  # popped and put back: the newest last
            probes[probe_key(settings)] = {"paces": {str(size): pace for size, pace in probed.paces.items()},
                                           "forward": probed.forward}
            while len(probes) > self.max_shapes:
                probes.pop(next(iter(probes)))
            data["probes"] = probes
            self._write(data)

    def companion_seconds(self) -> float | None:
        """Seconds fitting a companion takes here besides reading its drawings, or None if never timed."""
        seconds = self.read().get("companion")
        return float(seconds) if isinstance(seconds, (int, float)) and 0 <= seconds < math.inf else None

    def record_companion(self, seconds: float) -> None:
        if not (isinstance(seconds, (int, float)) and 0 <= seconds < math.inf):
            raise ValueError(f"seconds must be a number from 0 up, got {seconds!r}")
        with self._lock:
            data = self.read()
            data["companion"] = round(float(seconds), 3)
            self._write(data)

    def _write(self, data: dict) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, json.dumps(data, indent=1).encode("utf-8"))
        except OSError:
            pass  # a read-only state folder costs better estimates, not the run

    def record(self, settings: TrainSettings, samples: int, seconds: float, start_seconds: float,
               cold: bool, modelled: float | None = None, finish: float | None = None) -> None:
        """Fold one run's pace in: `samples` images trained in `seconds` after its first batch.

        `modelled`: the seconds per image the cost model gave, for the slowdown of shapes never run.
        `finish`: the seconds the run took after its last epoch (the final test, the companion)."""
        if samples < self.min_samples or not seconds > 0:
            return  # a run this short is mostly its fixed costs (tests, evaluation): not a pace
        with self._lock:
            data = self.read()
            key = shape_key(settings)
            old = data["shapes"].pop(key, None)  # popped and put back: the file keeps the newest last
            pace = seconds / samples
            if isinstance(old, dict) and _positive(old.get("per_sample")):
                pace = self.NEWEST_WEIGHT * pace + (1 - self.NEWEST_WEIGHT) * float(old["per_sample"])
            runs = int(old.get("runs", 0)) + 1 if isinstance(old, dict) else 1
            data["shapes"][key] = {"per_sample": pace, "runs": runs}
            if _positive(finish):
                data["shapes"][key]["finish"] = round(float(finish), 3)
            while len(data["shapes"]) > self.max_shapes:
                data["shapes"].pop(next(iter(data["shapes"])))
            data["starts"][f"{settings.engine}-{'cold' if cold else 'warm'}"] = round(start_seconds, 3)
            if modelled is not None and modelled > 0:
                slowdown = data.get("slowdown") if isinstance(data.get("slowdown"), dict) else {}
                kind = f"{settings.engine}/{settings.arch}"
                # Clamped: one odd run (a machine busy with something else) must not make every
                # estimate for shapes never run absurd.
                ratio = min(max((seconds / samples) / modelled, MIN_SLOWDOWN), MAX_SLOWDOWN)
                if _positive(slowdown.get(kind)):
                    ratio = self.NEWEST_WEIGHT * ratio + (1 - self.NEWEST_WEIGHT) * float(slowdown[kind])
                slowdown[kind] = ratio
                data["slowdown"] = slowdown  # one entry per engine and architecture: bounded
            self._write(data)


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


def describe_seconds(seconds: float) -> str:
    """A duration for people: "about 40 seconds", "about 3 minutes", "about 1 hour 5 minutes"."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return _("a few seconds")
    if seconds < 90:
        return _("about {seconds} seconds").format(seconds=round(seconds / 5) * 5)
    minutes = round(seconds / 60)
    if minutes < 60:
        return _("about {minutes} minutes").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if not minutes:
        return ngettext("about {hours} hour", "about {hours} hours", hours).format(hours=hours)
    return ngettext("about {hours} hour {minutes} minutes", "about {hours} hours {minutes} minutes",
                    hours).format(hours=hours, minutes=minutes)
