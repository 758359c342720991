"""The saved models as a table for people: the Train page's list of earlier models."""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ..i18n import N_, ngettext, number, percent
from ..i18n import gettext as _
from ..training import TrainSettings
from .classroom import ClassModel
from .names import shown_name
from .store import RunEntry

# Column names in English (N_): the page shows them in the visitor's language (`shown_columns`); the
# words in the cells are the visitor's language already.
COLUMNS = ["", N_("test accuracy"), N_("network"), N_("training"), N_("trained (UTC)")]
SETTINGS_SHOWN = (("learningrate", N_("learning rate")), ("momentum", N_("momentum")))  # from a NumPy model's info


def shown_columns(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with its column names in the visitor's language."""
    return table.rename(columns=lambda name: _(name) if name else name)


def models_table(entries: Iterable[RunEntry]) -> pd.DataFrame:
    """One row per saved model (ModelStore.runs()'s order), in words: shipped/live, test accuracy,
    network, how it was trained, when. An unreadable file gets a row saying why."""
    rows = []
    for entry in entries:
        info = entry.info
        if info is None:
            unreadable = _("{name}: unreadable ({problem})").format(name=entry.name, problem=entry.error)
            rows.append({"": "", "test accuracy": "", "network": unreadable,
                         "training": "", "trained (UTC)": ""})
            continue
        extras = [f"{_(name)} {info.settings[key]:g}" for key, name in SETTINGS_SHOWN
                  if isinstance(info.settings.get(key), (int, float))]
        epochs = ngettext("{epochs} epoch at batch {batch}", "{epochs} epochs at batch {batch}",
                          info.epochs).format(epochs=info.epochs, batch=info.batch_size)
        rows.append({
            "": _(", ").join(_(word) for word, yes in ((N_("shipped"), entry.is_default), (N_("live"), entry.live))
                             if yes),
            "test accuracy": percent(info.test_accuracy, 2) if info.test_accuracy is not None else _("untested"),
            "network": f"{info.engine} {info.architecture}",
            "training": _(", ").join([epochs] + extras),
            "trained (UTC)": info.trained_at[:16].replace("T", " "),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def recipe(entry: ClassModel) -> str:
    """How a class model was trained, in the current language (as it was kept, for an entry kept without its
    settings or with settings this version does not know)."""
    try:
        return TrainSettings(**entry.settings).describe() if entry.settings else entry.recipe
    except (TypeError, ValueError):
        return entry.recipe


CLASS_COLUMNS = ["", N_("who"), N_("MNIST test accuracy"), N_("lab drawings"), N_("recipe"), N_("trained (UTC)")]


def class_table(entries: Iterable[ClassModel], mine: str | None = None) -> pd.DataFrame:
    """The class board as a table, in `entries`' order (classroom.ranked: best first): place, owner
    ("you" beside the visitor's own, whose key is `mine`), test accuracy (a fraction), accuracy on
    the lab's drawings in words (how many it was measured on), recipe, when. The figures come
    first, so that a phone shows them before the long recipe."""
    rows = [{"": f"{place}",
             "who": shown_name(entry.label) + (_(" (you)") if mine is not None and entry.owner == mine else ""),
             "MNIST test accuracy": entry.test_accuracy,
             "lab drawings": (_("{accuracy} of {count}").format(accuracy=percent(entry.drawings_accuracy, 1),
                                                                count=number(entry.drawings))
                              if entry.drawings_accuracy is not None else _("none yet")),
             "recipe": recipe(entry), "trained (UTC)": entry.trained_at[:16].replace("T", " ")}
            for place, entry in enumerate(entries, 1)]
    return pd.DataFrame(rows, columns=CLASS_COLUMNS)
