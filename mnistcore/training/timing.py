"""How long a training run takes on this server: estimates before it starts, and `Timings`, which
remembers how long runs took here so that the next estimate tells the truth.

The registry of networks gives each network's cost on a quiet server (seconds per image and per
weight update, and before its first batch); measured runs, and how much slower than that this
server has been, take over as soon as there are any.
"""
from __future__ import annotations

import json
import math
import sys
import threading
import time
from pathlib import Path

from ..files import atomic_write_bytes
from ..i18n import gettext as _
from ..i18n import ngettext
from .settings import TrainSettings, new_model

TEST_IMAGES = 10_000                 # evaluated after every epoch
CURVE_IMAGES = 6 * 1_000             # scored for the curve points of an epoch, on average (run.POINTS_*, CURVE_SAMPLE)
ROBUST_PER_SAMPLE = 5e-6             # distorting 30% of each batch (bench/handwriting.py measures it)


def estimate_seconds(settings: TrainSettings, train_samples: int = 60_000, timings: Timings | None = None) -> float:
    """Expected wall-clock seconds for a run with these settings on this server.

    From `timings` (runs measured on this server) where it knows this shape of run, else from the
    registry's costs. Loading TensorFlow is counted only for networks that need it, while it is not loaded.
    """
    return sum(estimate_phases(settings, train_samples, timings))


def estimate_phases(settings: TrainSettings, train_samples: int = 60_000,
                    timings: Timings | None = None) -> tuple[float, float]:
    """(seconds before the first batch, seconds of training), as estimate_seconds."""
    network = settings.validate().network
    n = min(train_samples, settings.train_limit or train_samples)
    warm = "tensorflow" in sys.modules
    start = network.start_seconds[1 if warm else 0]
    measured = timings.lookup(settings, cold=not warm) if timings is not None else None
    if measured is not None:
        per_sample, measured_start = measured
        if network.tensorflow and measured_start is not None:  # loading TensorFlow: worth timing
            start = measured_start
        return start, settings.epochs * n * per_sample
    # Never timed in this shape: the model's figure, times how much slower than the model this
    # server has been for the same engine and architecture (the registry gives a quiet server's costs).
    slower = timings.slowdown(settings) if timings is not None else 1.0
    return start, settings.epochs * modelled_epoch(settings, n) * slower


def modelled_epoch(settings: TrainSettings, n: int) -> float:
    """Seconds for one epoch of `n` images on a quiet server, by the registry's cost model."""
    return _plain_epoch(settings, n) + (n * ROBUST_PER_SAMPLE if settings.robust else 0.0)


def _plain_epoch(settings: TrainSettings, n: int) -> float:
    per_image, per_update = settings.network.costs(settings)
    steps = -(-n // int(settings.batch_size))  # mini-batches per epoch, rounded up
    # Testing and the curve points are forward passes: a third of an image's cost each.
    return per_image * (n + (TEST_IMAGES + CURVE_IMAGES) / 3) + steps * per_update


PROBE_IMAGES = 256  # images a start-up probe trains on: well under a second for the convnet


def probe(settings: TrainSettings, data, timings: Timings, images: int = PROBE_IMAGES) -> float | None:
    """Time a few batches of a fresh model of `settings` here, so that estimates are honest from the
    first run on a new server; returns the measured over the modelled seconds per image (None when
    runs of this shape have been timed here already: they know better).

    `data`: load_mnist()'s ((x_train, y_train), test). Recorded in `timings` as this shape's pace
    (the cost model's, scaled by the ratio) and, where none is known yet, as the engine and
    architecture's slowdown, which scales the cost model for the shapes never run or probed.
    """
    if timings.lookup(settings) is not None:
        return None
    (x_train, y_train), _ = data
    n = min(images, len(x_train))
    model = new_model(settings)
    batch = min(int(settings.batch_size), n)
    model.fit(x_train[:batch], y_train[:batch], epochs=1, batch_size=batch)  # first calls: allocations, caches
    started = time.perf_counter()
    model.fit(x_train[:n], y_train[:n], epochs=1, batch_size=batch)
    measured = (time.perf_counter() - started) / n
    per_image, per_update = settings.network.costs(settings)
    ratio = measured / (per_image + per_update / batch)
    timings.record_slowdown(settings, ratio)
    clamped = min(max(ratio, MIN_SLOWDOWN), MAX_SLOWDOWN)  # as runs' are: one odd probe must not make estimates absurd
    timings.record_pace(settings, clamped * modelled_epoch(settings, FULL_EPOCH) / FULL_EPOCH)
    return ratio


FULL_EPOCH = 60_000  # the images of a whole run's epoch, for a probe's pace


def shape_key(settings: TrainSettings) -> str:
    """Runs that cost the same per image share a key: engine, architecture, its network's shape, batch bucket.

    Batch sizes are bucketed by powers of 2 (3-4, 5-8, ..., 65-128, ...): the cost per image
    changes with the number of weight updates, which halves as the batch doubles.
    """
    bucket = 1 << max(0, int(settings.batch_size) - 1).bit_length()
    robust = "/robust" if settings.robust else ""  # distorting the batches costs time of its own
    shape = settings.network.shape
    more = f"{shape(settings)}/" if shape is not None else ""  # e.g. the MLP's width and learning rule
    return f"{settings.engine}/{settings.arch}/{more}b{bucket}{robust}"


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

    def record_pace(self, settings: TrainSettings, per_sample: float) -> None:
        """A probe's seconds per image for this shape of run, kept only where no run has timed it."""
        if not _positive(per_sample):
            raise ValueError(f"per_sample must be a positive number, got {per_sample!r}")
        with self._lock:
            data = self.read()
            key = shape_key(settings)
            if isinstance(data["shapes"].get(key), dict):
                return
            data["shapes"][key] = {"per_sample": per_sample, "runs": 0}  # 0: probed, never run
            while len(data["shapes"]) > self.max_shapes:
                data["shapes"].pop(next(iter(data["shapes"])))
            self._write(data)

    def _write(self, data: dict) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, json.dumps(data, indent=1).encode("utf-8"))
        except OSError:
            pass  # a read-only state folder costs better estimates, not the run

    def record(self, settings: TrainSettings, samples: int, seconds: float, start_seconds: float,
               cold: bool, modelled: float | None = None) -> None:
        """Fold one run's pace in: `samples` images trained in `seconds` after its first batch.

        `modelled`: the seconds per image the cost model gave, for the slowdown of shapes never run."""
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
