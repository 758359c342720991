"""How well a model does on labelled images: accuracy, per digit, the confusion matrix."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .nets.base import DigitModel, check_labels


@dataclass(frozen=True)
class Evaluation:
    """How a model does on labelled images."""

    accuracy: float
    per_digit: np.ndarray    # (10,) accuracy for each true digit (NaN where a digit is absent)
    confusion: np.ndarray    # (10, 10) counts: row = true digit, column = predicted digit
    predictions: np.ndarray  # (n,) predicted digits
    confidence: np.ndarray   # (n,) probability of the predicted digit

    @property
    def count(self) -> int:
        return int(self.confusion.sum())


def evaluate(model: DigitModel, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Accuracy, per-digit accuracy and confusion matrix of `model` on `images`."""
    proba = model.predict_proba(images)
    return evaluation_from_proba(proba, labels)


def evaluation_from_proba(proba: np.ndarray, labels: np.ndarray) -> Evaluation:
    y = check_labels(labels, len(proba))
    predictions = proba.argmax(axis=1)
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (y, predictions), 1)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_digit = np.diag(confusion) / totals
    accuracy = float(np.trace(confusion) / max(len(y), 1))
    confidence = proba[np.arange(len(proba)), predictions]
    return Evaluation(accuracy, per_digit, confusion, predictions, confidence)


def format_evaluation(ev: Evaluation) -> str:
    """Per-digit accuracy and the confusion matrix as plain text, ending with the accuracy line."""
    lines = ["per-digit accuracy:"]
    lines += [f"  {d}: {acc:.4f}" if np.isfinite(acc) else f"  {d}: (none)" for d, acc in enumerate(ev.per_digit)]
    lines.append("confusion matrix (rows: true digit, columns: predicted digit):")
    lines.append("      " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(ev.confusion):
        lines.append(f"  {d}:  " + "".join(f"{c:>6}" for c in row))
    lines.append(f"test accuracy: {ev.accuracy:.4f}")
    return "\n".join(lines)
