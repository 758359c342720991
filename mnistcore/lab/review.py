"""Which visitors' labels are held for review before anything trains on them.

A mis-tap ("No, it's a 1" under a clear 7) would otherwise count as the model's mistake on the Lab
handwriting page and go into training. A label is held when every model asked strongly disagrees
with it: each gives the label less than LABEL_BELOW while being more than OWN_ANSWER_ABOVE sure of
another digit. Honest hard cases (a 4 the model reads as a 9 at 60%) are kept as they are: those
are the drawings the lab wants. An operator accepts or rejects held labels on the Lab handwriting
page (FeedbackStore.review).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LABEL_BELOW = 0.02  # the model gives the visitor's digit less than this...
OWN_ANSWER_ABOVE = 0.9    # ...and its own answer more than this: it strongly disagrees
MAX_MODELS = 32     # probability vectors one decision may weigh (the live model and saved runs)


def strongly_disagrees(label: int, probabilities) -> bool:
    """Does one model, with these (10,) probabilities, strongly disagree that the drawing is `label`?"""
    p = _checked(probabilities)
    return bool(p[label] < LABEL_BELOW and p.max() > OWN_ANSWER_ABOVE)


def should_hold(label: int, probabilities, others: Sequence = ()) -> bool:
    """Hold this label for review? Only when the live model (`probabilities`) and every model in
    `others` (more (10,) probability vectors, e.g. the saved runs') strongly disagree with it."""
    if not (isinstance(label, (int, np.integer)) and 0 <= label <= 9):
        raise ValueError(f"label must be a digit 0-9, got {label!r}")
    if len(others) + 1 > MAX_MODELS:
        raise ValueError(f"a review decision weighs at most {MAX_MODELS} models' answers, got {len(others) + 1}")
    return all(strongly_disagrees(int(label), p) for p in (probabilities, *others))


def _checked(probabilities) -> np.ndarray:
    p = np.asarray(probabilities, np.float64)
    if p.shape != (10,):
        raise ValueError(f"a model's probabilities must have shape (10,), got {p.shape}")
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise ValueError(f"a model's probabilities must be numbers in [0, 1], got {p.tolist()}")
    return p
