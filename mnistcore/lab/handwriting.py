"""How a model reads the lab's own handwriting (the drawings visitors labelled), beside MNIST.

The drawings come from `feedback.FeedbackStore.all()`; the report says how a model does on them
now, digit by digit, and which ones it gets wrong. Everything here is plain arrays: the Lab
handwriting page turns them into tables and pictures.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .feedback import Collected
from ..evaluation import Evaluation, evaluate
from ..nets.base import DigitModel


@dataclass(frozen=True)
class HandwritingReport:
    """One model's reading of every collected drawing."""

    collected: Collected
    evaluation: Evaluation    # the model on the drawings: accuracy, per digit, predictions
    counts: np.ndarray        # (10,) int64: drawings of each true digit

    @property
    def accuracy_then(self) -> float:
        """How often the models live when the drawings were made read them right."""
        return float(np.mean(self.collected.predicted == self.collected.labels))

    @property
    def mistakes(self) -> np.ndarray:
        """(n,) bool: the drawings this model reads wrong."""
        return self.evaluation.predictions != self.collected.labels


def report(model: DigitModel, collected: Collected) -> HandwritingReport:
    """How `model` reads the collected drawings; ValueError when there are none."""
    if len(collected) == 0:
        raise ValueError("there are no lab drawings yet: label some on the Draw page first")
    return HandwritingReport(collected, evaluate(model, collected.images, collected.labels),
                             np.bincount(collected.labels, minlength=10).astype(np.int64))


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
