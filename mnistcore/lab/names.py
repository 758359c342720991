"""Visitors' names: what a name others see may hold, and why a name given cannot be one."""
from __future__ import annotations

import re

# What a name others see may hold: letters, digits, spaces, ' and -. No dots (no "www.x.com" that
# Markdown would make a link), no _ or * (no emphasis), no : (no emoji or colour codes).
NOT_IN_NAMES = re.compile(r"[^\w '-]|_")
ANONYMOUS = re.compile(r"\s*visitor\b", re.IGNORECASE)  # the site's own "Visitor 3F2A" labels


def clean_label(text: str | None, fallback: str = "someone") -> str:
    """A name others will see, with anything but letters, digits, spaces, ' and - taken out; 40 at most."""
    text = NOT_IN_NAMES.sub("", text or "")
    return " ".join(text.split())[:40].strip(" '-") or fallback


def name_problem(text: str) -> str | None:
    """Why `text` cannot be a visitor's name, in plain words; None when it can."""
    if NOT_IN_NAMES.search(text):
        return "a name may hold letters, digits, spaces, ' and - only"
    if ANONYMOUS.match(text):
        return "names starting with “Visitor” are the site's own anonymous labels: choose another"
    return None
