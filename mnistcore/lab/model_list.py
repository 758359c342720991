"""The saved models as a table for people: the Train page's list of earlier models."""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ..training import plural
from .classroom import ClassModel
from .store import RunEntry

COLUMNS = ["", "test accuracy", "network", "training", "trained (UTC)"]
SETTINGS_SHOWN = (("learningrate", "learning rate"), ("momentum", "momentum"))  # from a NumPy model's info


def models_table(entries: Iterable[RunEntry]) -> pd.DataFrame:
    """One row per saved model (ModelStore.runs()'s order), in words: shipped/live, test accuracy,
    network, how it was trained, when. An unreadable file gets a row saying why."""
    rows = []
    for entry in entries:
        info = entry.info
        if info is None:
            rows.append({"": "", "test accuracy": "", "network": f"{entry.name}: unreadable ({entry.error})",
                         "training": "", "trained (UTC)": ""})
            continue
        extras = [f"{name} {info.settings[key]:g}" for key, name in SETTINGS_SHOWN
                  if isinstance(info.settings.get(key), (int, float))]
        epochs = f"{plural(info.epochs, 'epoch')} at batch {info.batch_size}"
        rows.append({
            "": ", ".join(word for word, yes in (("shipped", entry.is_default), ("live", entry.live)) if yes),
            "test accuracy": f"{info.test_accuracy:.2%}" if info.test_accuracy is not None else "untested",
            "network": f"{info.engine} {info.architecture}",
            "training": ", ".join([epochs] + extras),
            "trained (UTC)": info.trained_at[:16].replace("T", " "),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


CLASS_COLUMNS = ["", "who", "MNIST test accuracy", "lab drawings", "recipe", "trained (UTC)"]


def class_table(entries: Iterable[ClassModel], mine: str | None = None) -> pd.DataFrame:
    """The class board as a table, in `entries`' order (classroom.ranked: best first): place, owner
    ("you" beside the visitor's own, whose key is `mine`), test accuracy (a fraction), accuracy on
    the lab's drawings in words (how many it was measured on), recipe, when. The figures come
    first, so that a phone shows them before the long recipe."""
    rows = [{"": f"{place}", "who": entry.label + (" (you)" if mine is not None and entry.owner == mine else ""),
             "MNIST test accuracy": entry.test_accuracy,
             "lab drawings": (f"{entry.drawings_accuracy:.1%} of {entry.drawings:,}"
                              if entry.drawings_accuracy is not None else "none yet"),
             "recipe": entry.recipe, "trained (UTC)": entry.trained_at[:16].replace("T", " ")}
            for place, entry in enumerate(entries, 1)]
    return pd.DataFrame(rows, columns=CLASS_COLUMNS)
