"""What reads of the lab's drawings return: some drawings with what is known of each (`Collected`),
the drawings training may use (`TrainingSet`), and which state of the collection they come from (`Version`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

# The columns a read selects, in the order `collected` takes them.
COLUMNS = ("id, created_at, image, raw_height, raw_width, label, predicted, confidence, model, status,"
           " label_probability, not_digit")


class Version(NamedTuple):
    """Which state of the collection: an added drawing changes the first two, an undo or a review the third."""

    count: int        # drawings stored
    last_id: int      # the newest drawing's id (0 when there are none)
    changes: int = 0  # undos and review decisions so far



@dataclass(frozen=True)
class TrainingSet:
    """The drawings training may use (labels not held or rejected), oldest first, and how far they go;
    and the drawings visitors said are not digits, which the model's companion learns to refuse."""

    images: np.ndarray  # (n, 28, 28) uint8, MNIST format
    labels: np.ndarray  # (n,) uint8
    up_to_id: int       # the newest included drawing's id (0: none); every newer drawing is not in it
    newest: str | None  # when that drawing was saved (ISO 8601, UTC)
    not_digits: np.ndarray = field(default_factory=lambda: np.zeros((0, 28, 28), np.uint8))  # (m, 28, 28) uint8

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def record(self) -> dict:
        """What a model trained on these keeps in its info (ModelInfo.lab_drawings), so that the
        Lab handwriting page can measure it only on drawings newer than `up_to_id`."""
        return {"count": len(self), "up_to_id": self.up_to_id, "newest": self.newest}



@dataclass(frozen=True)
class Collected:
    """Labelled drawings: all of them or some (`FeedbackStore.read`, `rows`), oldest first unless asked otherwise."""

    ids: np.ndarray          # (n,) int64
    images: np.ndarray       # (n, 28, 28) uint8, MNIST format
    labels: np.ndarray       # (n,) uint8, the visitors' answers
    predicted: np.ndarray    # (n,) uint8, the model's answers at the time
    confidence: np.ndarray   # (n,) float32
    raw_sizes: np.ndarray    # (n, 2) int64: height, width of the raw drawing
    models: list[str]
    created_at: list[str]
    status: list[str]                # "ok", "held", "accepted" or "rejected"
    label_probability: np.ndarray    # (n,) float32: the live model's probability for the label (NaN: not known)
    not_digit: np.ndarray            # (n,) bool: the visitor said it is no digit (`labels` then holds the model's)

    def __len__(self) -> int:
        return len(self.ids)


def collected(rows: list[tuple]) -> Collected:
    """Rows of (COLUMNS) as a Collected."""
    images = np.frombuffer(b"".join(r[2] for r in rows), np.uint8).reshape(-1, 28, 28).copy()
    return Collected(
        ids=np.array([r[0] for r in rows], np.int64),
        images=images,
        labels=np.array([r[5] for r in rows], np.uint8),
        predicted=np.array([r[6] for r in rows], np.uint8),
        confidence=np.array([r[7] for r in rows], np.float32),
        raw_sizes=np.array([(r[3], r[4]) for r in rows], np.int64).reshape(-1, 2),
        models=[r[8] for r in rows],
        created_at=[r[1] for r in rows],
        status=[r[9] for r in rows],
        label_probability=np.array([np.nan if r[10] is None else r[10] for r in rows], np.float32),
        not_digit=np.array([bool(r[11]) for r in rows], bool),
    )


def take(c: Collected, positions: list[int]) -> Collected:
    """The drawings of `c` at these positions, in this order."""
    return Collected(c.ids[positions], c.images[positions], c.labels[positions], c.predicted[positions],
                     c.confidence[positions], c.raw_sizes[positions].reshape(-1, 2),
                     [c.models[k] for k in positions], [c.created_at[k] for k in positions],
                     [c.status[k] for k in positions], c.label_probability[positions], c.not_digit[positions])


def concat(parts: list[Collected]) -> Collected:
    """The drawings of every part, one part after the other."""
    return Collected(np.concatenate([p.ids for p in parts]), np.concatenate([p.images for p in parts]),
                     np.concatenate([p.labels for p in parts]), np.concatenate([p.predicted for p in parts]),
                     np.concatenate([p.confidence for p in parts]), np.concatenate([p.raw_sizes for p in parts]),
                     [m for p in parts for m in p.models], [t for p in parts for t in p.created_at],
                     [s for p in parts for s in p.status], np.concatenate([p.label_probability for p in parts]),
                     np.concatenate([p.not_digit for p in parts]))
