"""How a model reads the lab's own handwriting (the drawings visitors labelled), beside MNIST.

The report says how a model does on the drawings, digit by digit, and which ones it gets wrong:
measured only on drawings whose label stands (not held for review, not rejected) and that the
model did not train on (newer than the `up_to_id` its info records, see `trained_up_to`). It holds
no images, only a few numbers per drawing (about 90 bytes), so a page can keep it for 100,000
drawings and read from the database only the drawings it shows (`FeedbackStore.rows`).

Reading every drawing takes the live model seconds at 100,000 drawings, too long for every page
view, so `HandwritingReports` works the report out once per (live model, version of the
collection) and every visitor shares it. A drawing added since is read on its own and added to
the report; an undo or a review decision reads only the statuses (a small index, no images); only
a new live model reads them all again. Everything here is plain arrays: the Lab handwriting page
turns them into tables and pictures.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..data import csv_bytes
from ..evaluation import Evaluation, evaluation_from_proba
from ..nets.base import DigitModel
from .drawing_sets import Collected, Version
from .feedback import HELD, REJECTED, USABLE, FeedbackStore

CHUNK = 5_000  # drawings read and predicted at a time (a few MB), however many there are
# Readings kept, newest model first: two, so that a page view still running with the model live
# a moment ago does not throw away the new live model's reading (both would be worked out in turn).
MODELS_KEPT = 2
NOT_DIGITS_KEPT = 10_000  # drawings said not to be digits kept for the page and its download: the newest


@dataclass(frozen=True)
class HandwritingReport:
    """One model's reading of the drawings it is measured on, oldest first (no images), and how
    many drawings were left out and why."""

    ids: np.ndarray             # (n,) int64: the measured drawings' ids in the database
    labels: np.ndarray          # (n,) uint8: the digit each visitor says they drew
    predicted_then: np.ndarray  # (n,) uint8: what the model live at the time read
    proba: np.ndarray           # (n, 10) float32: this model's probabilities
    evaluation: Evaluation      # this model on the measured drawings: accuracy, per digit, predictions
    counts: np.ndarray          # (10,) int64: measured drawings of each true digit
    collected: int = 0          # every drawing in the store, measured or not
    held: int = 0               # waiting for review: not the model's mistakes, not measured
    rejected: int = 0           # labels an operator rejected
    trained_on: int = 0         # drawings the model trained on (ids <= trained_up_to): not a test of it
    trained_up_to: int = 0      # the newest drawing it trained on (0: none)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def usable(self) -> int:
        """Drawings whose labels stand (not held, not rejected): what training and downloads use."""
        return self.collected - self.held - self.rejected

    @property
    def accuracy_then(self) -> float:
        """How often the models live when the drawings were made read them right (NaN: no drawings)."""
        return float(np.mean(self.predicted_then == self.labels)) if len(self) else float("nan")

    @property
    def mistakes(self) -> np.ndarray:
        """(n,) bool: the drawings this model reads wrong."""
        return self.evaluation.predictions != self.labels


def trained_up_to(info) -> int | None:
    """The newest lab drawing a model trained on, from its info's `lab_drawings` record
    (FeedbackStore.training_set().record): 0 when it trained on none or has no record, None when
    the record is not one we can read (then nobody knows which drawings it saw).

    The record is a field of ModelInfo, not an entry of its `settings`: those are the network's
    own configuration, rebuilt from the file on load (NetConfig(**settings) refuses other keys).
    """
    record = getattr(info, "lab_drawings", None)
    if record is None:
        return 0
    up_to = record.get("up_to_id") if isinstance(record, dict) else None
    if isinstance(up_to, int) and not isinstance(up_to, bool) and up_to >= 0:
        return up_to
    return None


def report(model: DigitModel, collected: Collected, trained_up_to: int = 0) -> HandwritingReport:
    """How `model` reads the collected drawings (those it can be measured on); ValueError when there are none."""
    if len(collected) == 0:
        raise ValueError("there are no lab drawings yet: label some on the Draw page first")
    reading = _Reading(collected.ids, collected.labels, collected.predicted, _proba(model, collected),
                       np.array(collected.status))
    return reading.report(trained_up_to)


@dataclass(frozen=True)
class _Reading:
    """One model's answers on every drawing in the store (held and rejected too), with their statuses."""

    ids: np.ndarray             # (n,) int64, ascending
    labels: np.ndarray          # (n,) uint8
    predicted_then: np.ndarray  # (n,) uint8
    proba: np.ndarray           # (n, 10) float32
    status: np.ndarray          # (n,) str
    version: Version = Version(0, 0)  # the collection it was read from

    def take(self, keep: np.ndarray) -> _Reading:
        return _Reading(self.ids[keep], self.labels[keep], self.predicted_then[keep], self.proba[keep],
                        self.status[keep], self.version)

    def report(self, trained_up_to: int) -> HandwritingReport:
        """The report on the drawings whose labels stand and that a model trained up to that id did not see."""
        usable = np.isin(self.status, USABLE)
        measured = usable & (self.ids > trained_up_to)
        labels = self.labels[measured]
        proba = self.proba[measured]
        return HandwritingReport(
            ids=self.ids[measured], labels=labels, predicted_then=self.predicted_then[measured], proba=proba,
            evaluation=evaluation_from_proba(proba, labels),
            counts=np.bincount(labels, minlength=10).astype(np.int64),
            collected=len(self.ids), held=int(np.sum(self.status == HELD)),
            rejected=int(np.sum(self.status == REJECTED)), trained_on=int(np.sum(usable & ~measured)),
            trained_up_to=trained_up_to)


@dataclass(frozen=True)
class NotDigits:
    """The drawings visitors said are not digits ("That is not a digit"; rejected ones left out):
    how many, and the newest NOT_DIGITS_KEPT of them, newest first. No model is measured on them."""

    count: int
    images: np.ndarray          # (k, 28, 28) uint8, k <= NOT_DIGITS_KEPT, newest first

    def csv(self) -> bytes:
        """The kept drawings in the tutorial's CSV layout, each row's label `x` for "not a digit":
        a tutorial reading it as digits stops at the first row rather than learn a wrong digit."""
        if len(self.images) == 0:
            return b""
        rows = csv_bytes(self.images, np.zeros(len(self.images), np.uint8)).split(b"\n")
        return b"\n".join(b"x" + row[1:] if row else row for row in rows)


class HandwritingReports:
    """The live model's report on the lab's drawings, worked out once and shared by every visitor.

    Thread-safe: visitors asking while a report is being worked out wait for it rather than work
    it out again. The newest reading of each of the last MODELS_KEPT models is kept (a few MB
    each at 100,000 drawings).
    """

    def __init__(self, store: FeedbackStore, chunk: int = CHUNK):
        if not (isinstance(chunk, (int, np.integer)) and chunk >= 1):
            raise ValueError(f"chunk must be a whole number >= 1, got {chunk!r}")
        self.store = store
        self.chunk = int(chunk)
        self._lock = threading.Lock()  # one report is worked out at a time
        # By model id, oldest first: its reading, and the report made from it (with its trained_up_to).
        self._made: OrderedDict[str, tuple[_Reading, HandwritingReport]] = OrderedDict()
        self._not_digits: tuple[Version, NotDigits] | None = None

    def not_digits(self) -> NotDigits:
        """The drawings said not to be digits, read again only when the collection has changed."""
        version = self.store.version()
        with self._lock:
            if self._not_digits is None or self._not_digits[0] != version:
                images = self.store.not_digits()  # oldest first
                self._not_digits = (version, NotDigits(len(images), images[::-1][:NOT_DIGITS_KEPT].copy()))
            return self._not_digits[1]

    def report(self, model_id: str, model: DigitModel, trained_up_to: int = 0) -> HandwritingReport:
        """How `model` reads the drawings in the store now (an empty report when there are none),
        measured on those newer than `trained_up_to` (see the module's `trained_up_to`).

        `model_id` names the model: `Live.id`, which changes whenever a model is made live. The
        report is worked out again only when the model or the collection has changed since; new
        drawings are read on their own, undone ones dropped, review decisions taken from the
        statuses.
        """
        version = self.store.version()
        with self._lock:
            reading, made = self._made.get(model_id, (_NOTHING, None))
            if reading.version != version or made is None or made.trained_up_to != trained_up_to:
                if reading.version != version:
                    reading = self._catch_up(model, reading)
                made = reading.report(trained_up_to)
            self._made[model_id] = (reading, made)
            self._made.move_to_end(model_id)
            while len(self._made) > MODELS_KEPT:
                self._made.popitem(last=False)  # the model live longest ago
            return made

    def _catch_up(self, model: DigitModel, done: _Reading) -> _Reading:
        """`done`, brought up to the store now: undone drawings dropped, the ones added since read
        (a chunk at a time, keeping of each only what the report needs: memory stays at a few MB
        however many there are), and every drawing's status as it is now."""
        version, ids, statuses = self.store.statuses()
        after = int(done.ids[-1]) if len(done.ids) else 0  # every drawing up to here has been read
        kept = done.take(np.isin(done.ids, ids))
        parts = [(kept.ids, kept.labels, kept.predicted_then, kept.proba)]
        while True:
            chunk = self.store.read(after=after, up_to=version.last_id, limit=self.chunk)
            if len(chunk) == 0:
                break
            parts.append((chunk.ids, chunk.labels, chunk.predicted, _proba(model, chunk)))
            after = int(chunk.ids[-1])
        read_ids, labels, predicted_then, proba = (np.concatenate(column) for column in zip(*parts))
        # A drawing undone between the statuses and the chunks is missing from the chunks: keep only
        # those in both. The version is the statuses': anything newer makes the next view catch up.
        known = np.isin(read_ids, ids)
        status = np.array(statuses, dtype=str)[np.searchsorted(ids, read_ids[known])]
        return _Reading(read_ids[known], labels[known], predicted_then[known], proba[known], status, version)


def per_digit(lab: HandwritingReport, mnist: Evaluation) -> dict[str, list]:
    """Columns of a per-digit table: drawings, accuracy on them, and accuracy on MNIST's test set.

    Accuracies are fractions, None for a digit nobody has drawn yet.
    """
    def fractions(values: np.ndarray) -> list[float | None]:
        return [float(v) if np.isfinite(v) else None for v in values]

    return {
        "digit": list(range(10)),
        "drawings": lab.counts.tolist(),
        "lab accuracy": fractions(lab.evaluation.per_digit),
        "MNIST test accuracy": fractions(mnist.per_digit),
    }


def _proba(model: DigitModel, collected: Collected) -> np.ndarray:
    """(n, 10) float32: `model`'s probabilities for the collected drawings."""
    return np.asarray(model.predict_proba(collected.images), np.float32).reshape(len(collected), 10)


# The reading of no drawings: where every reading starts.
_NOTHING = _Reading(np.zeros(0, np.int64), np.zeros(0, np.uint8), np.zeros(0, np.uint8),
                    np.zeros((0, 10), np.float32), np.zeros(0, str), Version(0, 0))
