"""The Gallery's choices, as pure functions: which test images to show, in what order, which page.

Inputs are the test labels (n,), the live model's predicted digits (n,) and its confidence in
them (n,), e.g. from `models.evaluate`; outputs are indices into the test set.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..i18n import gettext as _
from ..i18n import percent as written_percent

PAGE_SIZE = 48


@dataclass(frozen=True)
class GalleryFilter:
    """What a person asked to see. Both digits set = one cell of the confusion matrix."""

    only_mistakes: bool = False
    true_digit: int | None = None       # None = any
    predicted_digit: int | None = None  # None = any
    least_sure_first: bool = False      # else in test-set order

    def describe(self) -> str:
        """In words, in the current language, e.g. "mistakes, true 4, predicted 9, least sure first"."""
        parts = [_("mistakes") if self.only_mistakes else _("all test images")]
        if self.true_digit is not None:
            parts.append(_("true {digit}").format(digit=self.true_digit))
        if self.predicted_digit is not None:
            parts.append(_("predicted {digit}").format(digit=self.predicted_digit))
        if self.least_sure_first:
            parts.append(_("least sure first"))
        return _(", ").join(parts)


def select(labels: np.ndarray, predictions: np.ndarray, confidence: np.ndarray,
           flt: GalleryFilter = GalleryFilter()) -> np.ndarray:
    """Indices (int64) of the images `flt` asks for, in the order it asks for."""
    labels, predictions, confidence = np.asarray(labels), np.asarray(predictions), np.asarray(confidence)
    if not (labels.shape == predictions.shape == confidence.shape and labels.ndim == 1):
        raise ValueError(f"labels, predictions and confidence must be equal-length 1-D arrays; got shapes "
                         f"{labels.shape}, {predictions.shape}, {confidence.shape}")
    for name in ("true_digit", "predicted_digit"):
        digit = getattr(flt, name)
        if digit is not None and digit not in range(10):
            raise ValueError(f"{name.replace('_', ' ')} must be a digit 0-9 or None; got {digit!r}")
    keep = np.ones(len(labels), bool)
    if flt.only_mistakes:
        keep &= predictions != labels
    if flt.true_digit is not None:
        keep &= labels == flt.true_digit
    if flt.predicted_digit is not None:
        keep &= predictions == flt.predicted_digit
    indices = np.flatnonzero(keep)
    if flt.least_sure_first:
        # A stable sort: equally sure images keep their test-set order, so pages do not shuffle.
        indices = indices[np.argsort(confidence[indices], kind="stable")]
    return indices.astype(np.int64)


def page_count(total: int, page_size: int = PAGE_SIZE) -> int:
    """Pages needed for `total` images (at least 1, so an empty result still has a page)."""
    _check_page_size(page_size)
    return max(1, -(-int(total) // page_size))


def page(indices: np.ndarray, page_number: int, page_size: int = PAGE_SIZE) -> np.ndarray:
    """The `page_number`-th (1-based) slice of `indices`; ValueError past the last page."""
    _check_page_size(page_size)
    pages = page_count(len(indices), page_size)
    if not (isinstance(page_number, (int, np.integer)) and 1 <= page_number <= pages):
        raise ValueError(f"page must be a whole number from 1 to {pages}; got {page_number!r}")
    begin = (page_number - 1) * page_size
    return np.asarray(indices)[begin : begin + page_size]


def mistakes(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """(n,) bool: where the prediction is wrong."""
    return np.asarray(predictions) != np.asarray(labels)


def captions(labels: np.ndarray, predictions: np.ndarray, confidence: np.ndarray, indices: np.ndarray) -> list[str]:
    """The captions of the images at `indices`."""
    return [caption(int(labels[i]), int(predictions[i]), float(confidence[i])) for i in indices]


def caption(label: int, prediction: int, confidence: float | None) -> str:
    """A tile's caption: "7 (99%)" when right, "✗ 4, is 9 (61%)" when wrong (without a confidence:
    "7", "✗ 4, is 9")."""
    said = str(prediction) if prediction == label else _("✗ {said}, is {digit}").format(said=prediction, digit=label)
    return said if confidence is None else f"{said} ({percent(confidence)})"


def alt_texts(labels: np.ndarray, predictions: np.ndarray, confidence: np.ndarray, indices: np.ndarray) -> list[str]:
    """What a screen reader says of each image at `indices`: the digit, what the model read, how sure."""
    return [alt_text(int(labels[i]), int(predictions[i]), float(confidence[i])) for i in indices]


def alt_text(label: int, prediction: int, confidence: float) -> str:
    """E.g. "A handwritten 9. The model read 4, 61% sure: a mistake."."""
    if prediction == label:
        return _("A handwritten {digit}. The model read {said}, {sure} sure.").format(
            digit=label, said=prediction, sure=percent(confidence))
    return _("A handwritten {digit}. The model read {said}, {sure} sure: a mistake.").format(
        digit=label, said=prediction, sure=percent(confidence))


def _check_page_size(page_size: int) -> None:
    if not (isinstance(page_size, (int, np.integer)) and page_size >= 1):
        raise ValueError(f"page size must be a whole number >= 1; got {page_size!r}")


def percent(probability: float) -> str:
    """A model's probability as a page shows it: "61%", at most "99%" (a model is never certain)."""
    return written_percent(min(float(probability), 0.99))
