"""Which visitors' labels are held for review before anything trains on them.

A label trains models only when it can be trusted. The page shows the model's bars, so a rule
that holds only labels the model strongly disagrees with tells an attacker which wrong label will
pass (the second bar). So the rule is the other way round: a label stands at once only when a
model agrees with it (its own answer, at least AGREE_ABOVE sure); every other label, mis-taps,
honest hard cases and lies alike, is held until an operator accepts or rejects it on the Lab
handwriting page (FeedbackStore.review). Reading the bars then helps nobody: the only labels that
pass unreviewed are the ones the model would have given itself. "That is not a digit" (label None)
is a label like the others: it stands at once only when a model is not even half sure of any digit,
so nobody can teach the lab's models to refuse clear digits without an operator seeing it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

AGREE_ABOVE = 0.5   # a model agrees with a label when it is its answer, at least this sure
MAX_MODELS = 32     # probability vectors one decision may weigh (the live model and saved runs)


def agrees(label: int | None, probabilities) -> bool:
    """Does one model, with these (10,) probabilities, agree that the drawing is `label` (None: no digit)?"""
    p = _checked(probabilities)
    if label is None:
        return bool(p.max() < AGREE_ABOVE)
    return bool(int(p.argmax()) == label and p[label] >= AGREE_ABOVE)


def should_hold(label: int | None, probabilities, others: Sequence = ()) -> bool:
    """Hold this label (a digit, or None for "not a digit") for review? Unless the live model
    (`probabilities`) or a model in `others` (more (10,) probability vectors, e.g. the saved runs')
    agrees with it."""
    if label is not None and not (isinstance(label, (int, np.integer)) and 0 <= label <= 9):
        raise ValueError(f"label must be a digit 0-9 or None (not a digit), got {label!r}")
    if len(others) + 1 > MAX_MODELS:
        raise ValueError(f"a review decision weighs at most {MAX_MODELS} models' answers, got {len(others) + 1}")
    answers = [_checked(p) for p in (probabilities, *others)]
    return not any(agrees(None if label is None else int(label), p) for p in answers)


def _checked(probabilities) -> np.ndarray:
    p = np.asarray(probabilities, np.float64)
    if p.shape != (10,):
        raise ValueError(f"a model's probabilities must have shape (10,), got {p.shape}")
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise ValueError(f"a model's probabilities must be numbers in [0, 1], got {p.tolist()}")
    return p
