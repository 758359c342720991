"""What visitors are shown: the site's words in their language (gettext's `_`, `ngettext`, numbers
the language's way), choice widgets labelled in those words (`choose`, from ui.choices), text from
other visitors as plain text, and messages without the server's paths in them."""
from __future__ import annotations

import re

from mnistcore.i18n import N_, ngettext, number, percent, restated, time_of_day
from mnistcore.i18n import gettext as _
from mnistcore.lab.names import shown_name
from mnistcore.paths import PROJECT_DIR
from ui.choices import choose

__all__ = ["N_", "_", "choose", "ngettext", "number", "percent", "plain", "public", "restated", "time_of_day",
           "visitor_name"]

# Everything Markdown, or Streamlit's own :emoji:, :color[...]: and $math$, could act on.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$'\"&=^])")
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.@+-]+/)*[\w.@+-]+/?")


def plain(text: str) -> str:
    """`text` for a Markdown element, shown as it is: every character Markdown could act on is
    escaped. For text that comes from visitors (names)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def visitor_name(label: str) -> str:
    """A visitor's name for a Markdown element: as they gave it, or the anonymous label in the language shown."""
    return plain(shown_name(label))


def public(text: object) -> str:
    """A message for visitors without the server's file system in it: paths inside the project
    become relative (weights/live.json), any other absolute path just its file name. The full
    message belongs in the server's log."""
    text = str(text).replace(f"{PROJECT_DIR}/", "")
    return ABSOLUTE_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], text)
