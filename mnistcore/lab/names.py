"""Visitors' names: what a name others see may hold, and why a name given cannot be one.

A name must not pass for the site's own words: not its anonymous labels ("Visitor 3F2A"), not a
role ("Teacher", "Admin") and not a message ("Teacher - server restarts now - go to ..."). Letters
that look alike across alphabets (Cyrillic "і" for Latin "i") are compared by what they look like,
and one name may not mix those alphabets.
"""
from __future__ import annotations

import re
import unicodedata

from ..i18n import N_, restated
from ..i18n import gettext as _

# What a name others see may hold: letters, digits, spaces, ' and -. No dots (no "www.x.com" that
# Markdown would make a link), no _ or * (no emphasis), no : (no emoji or colour codes).
NOT_IN_NAMES = re.compile(r"[^\w '-]|_")
ANONYMOUS = re.compile(r"\s*(?:visitor\b|访客)", re.IGNORECASE)  # the site's own "Visitor 3F2A" labels, 访客 3F2A
# The anonymous label as kept (in English, shared by every visitor's pages) and shown (shown_name).
ANONYMOUS_LABEL = N_("Visitor {code}")
MAX_WORDS = 4  # a name, not a sentence
SITE_WORDS = frozenset({"admin", "administrator", "teacher", "operator", "moderator", "server", "system",
                        "staff", "official", "mnist", "mnistlab", "support"})
LOOKALIKE_ALPHABETS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE")
# Letters of other alphabets drawn like Latin ones (Unicode's confusables, the common ones).
LOOKALIKES = str.maketrans("аеіјорсухѕԁһӏвмнтԛԝ" "αεικνορτυχ" "օսհ", "aeijopcyxsdhlbmhtqw" "aeikvoptux" "ouh")


def clean_label(text: str | None, fallback: str = "someone") -> str:
    """A name others will see, with anything but letters, digits, spaces, ' and - taken out; 40 at most."""
    text = NOT_IN_NAMES.sub("", unicodedata.normalize("NFC", text or ""))
    return " ".join(text.split())[:40].strip(" '-") or fallback


def looks_like(text: str) -> str:
    """What `text` looks like, in plain lower-case Latin where its letters look Latin: "Vіsitor" (with a
    Cyrillic і) looks like "visitor"."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(LOOKALIKES)


def _alphabets(text: str) -> set[str]:
    return {alphabet for c in text if c.isalpha()
            for alphabet in LOOKALIKE_ALPHABETS if unicodedata.name(c, "").startswith(alphabet + " ")}


def anonymous_label(code: str) -> str:
    """The name others see for a visitor who gave none, as kept: "Visitor 3F2A"."""
    return ANONYMOUS_LABEL.format(code=code)


def shown_name(label: str) -> str:
    """A visitor's name as kept, in the current language: an anonymous label becomes "访客 3F2A" in Chinese
    (a name given cannot look like one: name_problem)."""
    return restated(label, (ANONYMOUS_LABEL,))


def name_problem(text: str) -> str | None:
    """Why `text` cannot be a visitor's name, in plain words; None when it can."""
    text = unicodedata.normalize("NFC", text)  # an accent typed as its own character joins its letter
    if NOT_IN_NAMES.search(text):
        return _("a name may hold letters, digits, spaces, ' and - only")
    if len(_alphabets(text)) > 1:
        return _("a name may not mix letters of different alphabets (Latin, Cyrillic, Greek)")
    seen = looks_like(text)
    if ANONYMOUS.match(seen):
        return _("names starting with “Visitor” are the site's own anonymous labels: choose another")
    words = re.findall(r"\w+", seen)
    if SITE_WORDS.intersection(words):
        return _("a name may not be one of the site's roles (teacher, admin, server, ...): choose another")
    if len(words) > MAX_WORDS or " - " in f" {text} ":
        return _("a name is at most {count} words, not a message").format(count=MAX_WORDS)
    return None
