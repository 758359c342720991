"""The model's answer for one drawing, in plain words, including when it is not sure."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SURE_ABOVE = 0.6     # a top probability below this is a guess
CLEAR_MARGIN = 0.3   # ... and so is a top digit this close to the runner-up (62% vs 35%)


@dataclass(frozen=True)
class Answer:
    digit: int
    probability: float
    runner_up: int
    runner_up_probability: float
    probabilities: tuple[float, ...]  # all ten, in digit order

    @property
    def sure(self) -> bool:
        return self.probability >= SURE_ABOVE and self.probability - self.runner_up_probability >= CLEAR_MARGIN

    @property
    def headline(self) -> str:
        return f"Prediction: {self.digit}"

    @property
    def doubt(self) -> str | None:
        """E.g. "not sure: 4 or 9?" when unsure, else None."""
        if self.sure:
            return None
        return f"not sure: {self.digit} or {self.runner_up}?"


def read_answer(probabilities: np.ndarray) -> Answer:
    """An Answer from one image's probabilities: (10,) or (1, 10), summing to 1."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if p.shape != (10,) or not np.isfinite(p).all():
        raise ValueError(f"expected 10 finite probabilities, got shape {np.shape(probabilities)}")
    first, second = np.argsort(p, kind="stable")[::-1][:2]
    return Answer(int(first), float(p[first]), int(second), float(p[second]), tuple(float(v) for v in p))
