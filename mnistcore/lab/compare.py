"""Every saved model's answer for the same drawing, side by side (NumPy and Keras, MLP and CNN).

The models come from the model store's list (`ModelStore.runs()`: the published runs and the
shipped default); loading them is the caller's (the Draw page keeps loaded models cached). A
model that cannot be loaded gets a row saying why instead of an answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Sequence

import numpy as np

from ..explain.answer import Answer, read_answer
from ..i18n import gettext as _
from ..i18n import ngettext, percent
from ..nets.base import DigitModel, ModelFileError, ModelInfo
from .store import DEFAULT_NAME, RunEntry


@dataclass(frozen=True)
class ModelAnswer:
    """One saved model's answer for the drawing."""

    name: str                 # the store's name: "default" or a file name in runs/
    info: ModelInfo | None    # None when the file cannot be read
    live: bool
    answer: Answer | None     # None when the model could not be loaded (then `error` says why)
    error: str | None = None


def describe_run(name: str, info: ModelInfo | None) -> str:
    """A saved model in a few words, in the current language, e.g. "keras cnn conv32-conv64-10 relu/softmax,
    12 epochs, 99.10%, trained 2025-01-01 12:00" (or "shipped default" in place of the date)."""
    if info is None:
        return _("{name} (unreadable)").format(name=name)
    accuracy = _("untested") if info.test_accuracy is None else percent(info.test_accuracy, 2)
    epochs = ngettext("{count} epoch", "{count} epochs", info.epochs).format(count=info.epochs)
    when = _when(name, info)
    when = when if name == DEFAULT_NAME else _("trained {when}").format(when=when)
    return _("{model}, {epochs}, {accuracy}, {when}").format(
        model=f"{info.engine} {info.architecture}", epochs=epochs, accuracy=accuracy, when=when)


def live_marked(description: str) -> str:
    """A model's description with "(live)" after it, in the current language."""
    return _("{model} (live)").format(model=description)


def _when(name: str, info: ModelInfo | None) -> str:
    if name == DEFAULT_NAME:
        return _("shipped default")
    return info.trained_at[:16].replace("T", " ") if info is not None and info.trained_at else ""


def compare(image: np.ndarray, entries: Sequence[RunEntry],
            load: Callable[[str], DigitModel]) -> list[ModelAnswer]:
    """Each entry's answer for `image` (a (28, 28) MNIST-style image), in the entries' order.

    `load(name)` returns the model saved under `name`; ModelFileError, ValueError, OSError or
    ImportError (no TensorFlow) from it become that row's `error`.
    """
    answers = []
    for entry in entries:
        if entry.info is None:
            answers.append(ModelAnswer(entry.name, None, entry.live, None, entry.error or _("unreadable")))
            continue
        try:
            model = load(entry.name)
        except (ModelFileError, ValueError, OSError, ImportError) as err:
            answers.append(ModelAnswer(entry.name, entry.info, entry.live, None, str(err)))
            continue
        answer = read_answer(model.predict_proba(image)[0])
        answers.append(ModelAnswer(entry.name, entry.info, entry.live, answer))
    return answers


def table(answers: Sequence[ModelAnswer]) -> dict[str, list]:
    """Columns of the side-by-side table: model ("(live)" marks the live one), its test accuracy, when
    it was trained, answer, the answer's probability, and all ten probabilities (None where a model
    could not answer)."""
    return {
        "model": [(live_marked if v.live else str)(f"{v.info.engine} {v.info.architecture}" if v.info else v.name)
                  for v in answers],
        "test accuracy": [v.info.test_accuracy if v.info else None for v in answers],
        "trained": [_when(v.name, v.info) for v in answers],
        "answer": [str(v.answer.digit) if v.answer else f"— {v.error}" for v in answers],
        "probability": [v.answer.probability if v.answer else None for v in answers],
        "0 to 9": [list(v.answer.probabilities) if v.answer else None for v in answers],
    }
