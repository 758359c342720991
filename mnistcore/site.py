"""What the site reads from its environment: where the models live, and test-only switches.

- `MNISTLAB_WEIGHTS_DIR`: the model store's folder (default: weights/ in the project). Tests and
  the browser test point it at a temporary copy so they never touch the real models.
- `MNISTLAB_TRAIN_LIMIT`: train on the first N images only (tests and quick demos); the Train
  page says so when it is set.
"""
from __future__ import annotations

import os
from pathlib import Path

from .models import WEIGHTS_DIR

WEIGHTS_ENV = "MNISTLAB_WEIGHTS_DIR"
TRAIN_LIMIT_ENV = "MNISTLAB_TRAIN_LIMIT"


def weights_dir() -> Path:
    """The model store's folder: $MNISTLAB_WEIGHTS_DIR, else weights/ in the project."""
    value = os.environ.get(WEIGHTS_ENV, "").strip()
    return Path(value).resolve() if value else WEIGHTS_DIR


def train_limit() -> int | None:
    """$MNISTLAB_TRAIN_LIMIT as a whole number >= 1, or None when unset."""
    value = os.environ.get(TRAIN_LIMIT_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{TRAIN_LIMIT_ENV} must be a whole number >= 1; got {value!r}")
    return int(value)
