"""How a model reads the lab's own handwriting (the drawings visitors labelled), beside MNIST.

The report says how a model does on the drawings now, digit by digit, and which ones it gets
wrong. It holds no images, only a few numbers per drawing (about 60 bytes), so a page can keep it
for 100,000 drawings and read from the database only the drawings it shows (`FeedbackStore.rows`).

Reading every drawing takes the live model seconds at 100,000 drawings, too long for every page
view, so `HandwritingReports` works the report out once per (live model, version of the
collection) and every visitor shares it. A drawing added since is read on its own and added to
the report; only a new live model reads them all again. Everything here is plain arrays: the Lab
handwriting page turns them into tables and pictures.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .feedback import Collected, FeedbackStore
from ..evaluation import Evaluation, evaluation_from_proba
from ..nets.base import DigitModel

CHUNK = 5_000  # drawings read and predicted at a time (a few MB), however many there are
# Reports kept, newest model first: two, so that a page view still running with the model live
# a moment ago does not throw away the new live model's report (both would be worked out in turn).
MODELS_KEPT = 2


@dataclass(frozen=True)
class HandwritingReport:
    """One model's reading of the collected drawings, oldest first (no images)."""

    ids: np.ndarray             # (n,) int64: the drawings' ids in the database
    labels: np.ndarray          # (n,) uint8: the digit each visitor says they drew
    predicted_then: np.ndarray  # (n,) uint8: what the model live at the time read
    proba: np.ndarray           # (n, 10) float32: this model's probabilities
    evaluation: Evaluation      # this model on the drawings: accuracy, per digit, predictions
    counts: np.ndarray          # (10,) int64: drawings of each true digit

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def last_id(self) -> int:
        """The newest drawing's id (0 when there are none)."""
        return int(self.ids[-1]) if len(self.ids) else 0

    @property
    def accuracy_then(self) -> float:
        """How often the models live when the drawings were made read them right (NaN: no drawings)."""
        return float(np.mean(self.predicted_then == self.labels)) if len(self) else float("nan")

    @property
    def mistakes(self) -> np.ndarray:
        """(n,) bool: the drawings this model reads wrong."""
        return self.evaluation.predictions != self.labels


def report(model: DigitModel, collected: Collected) -> HandwritingReport:
    """How `model` reads the collected drawings; ValueError when there are none."""
    if len(collected) == 0:
        raise ValueError("there are no lab drawings yet: label some on the Draw page first")
    return _extended(_EMPTY, collected.ids, collected.labels, collected.predicted, _proba(model, collected))


class HandwritingReports:
    """The live model's report on the lab's drawings, worked out once and shared by every visitor.

    Thread-safe: visitors asking while a report is being worked out wait for it rather than work
    it out again. The newest report of each of the last MODELS_KEPT models is kept (a few MB each
    at 100,000 drawings).
    """

    def __init__(self, store: FeedbackStore, chunk: int = CHUNK):
        if not (isinstance(chunk, (int, np.integer)) and chunk >= 1):
            raise ValueError(f"chunk must be a whole number >= 1, got {chunk!r}")
        self.store = store
        self.chunk = int(chunk)
        self._lock = threading.Lock()  # one report is worked out at a time
        self._reports: OrderedDict[str, HandwritingReport] = OrderedDict()  # by model id, oldest first

    def report(self, model_id: str, model: DigitModel) -> HandwritingReport:
        """How `model` reads every drawing in the store now (an empty report when there are none).

        `model_id` names the model: `Live.id`, which changes whenever a model is made live. The
        report is worked out again only when the model or the collection has changed since, and
        for a changed collection only the drawings added since are read, when nothing else changed.
        """
        version = self.store.version()
        with self._lock:
            done = self._reports.get(model_id, _EMPTY)
            if (len(done), done.last_id) == version:
                return done  # the usual case: nothing has changed
            new = None
            if len(done) < version.count and done.last_id < version.last_id:
                new = self._read(model, done, version.last_id)  # only the drawings added since
                if len(new) != version.count:
                    new = None  # some older drawings went (the database was changed by hand)
            if new is None:
                new = self._read(model, _EMPTY, version.last_id)  # all of them again
            self._reports[model_id] = new
            self._reports.move_to_end(model_id)
            while len(self._reports) > MODELS_KEPT:
                self._reports.popitem(last=False)  # the model live longest ago
            return new

    def _read(self, model: DigitModel, done: HandwritingReport, up_to: int) -> HandwritingReport:
        """`done`, extended with the drawings after its last one up to id `up_to`.

        A chunk at a time, keeping of each only what the report needs: memory stays at a few MB
        however many drawings there are.
        """
        parts, after = [], done.last_id
        while True:
            chunk = self.store.read(after=after, up_to=up_to, limit=self.chunk)
            if len(chunk) == 0:
                break
            parts.append((chunk.ids, chunk.labels, chunk.predicted, _proba(model, chunk)))
            after = int(chunk.ids[-1])
        if not parts:
            return done
        return _extended(done, *(np.concatenate(column) for column in zip(*parts)))


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


def _extended(done: HandwritingReport, ids: np.ndarray, labels: np.ndarray, predicted_then: np.ndarray,
              proba: np.ndarray) -> HandwritingReport:
    """`done` with more drawings (newer than its last): their ids, labels, answers then, and `proba` now."""
    labels = np.concatenate([done.labels, labels])
    all_proba = np.concatenate([done.proba, proba])
    return HandwritingReport(
        ids=np.concatenate([done.ids, ids]),
        labels=labels,
        predicted_then=np.concatenate([done.predicted_then, predicted_then]),
        proba=all_proba,
        evaluation=evaluation_from_proba(all_proba, labels),
        counts=np.bincount(labels, minlength=10).astype(np.int64),
    )


def _empty() -> HandwritingReport:
    proba = np.zeros((0, 10), np.float32)
    labels = np.zeros(0, np.uint8)
    return HandwritingReport(np.zeros(0, np.int64), labels, labels, proba,
                             evaluation_from_proba(proba, labels), np.zeros(10, np.int64))


_EMPTY = _empty()  # the report on no drawings: where every report starts
