"""The site's words in the visitor's language: gettext catalogs (mnistcore/locale, made with Babel)
and numbers, percentages and times written the way that language writes them.

The language is a context variable, so each Streamlit session's script thread reads in its own
language: the site sets it once at the top of every page run (ui.language.use); code that runs
outside a page (the command line, tests) reads English.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import functools
import re
from collections.abc import Sequence
from pathlib import Path

from babel import Locale, dates, numbers
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
ENGLISH, CHINESE = "en", "zh_CN"
LANGUAGES = (CHINESE, ENGLISH)        # the switch's order
SOURCE = ENGLISH                      # the language the code is written in: its msgids
_language = contextvars.ContextVar("language", default=SOURCE)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def check(language: str) -> str:
    """`language` if the site speaks it; ValueError otherwise."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}; got {language!r}")
    return language


def set_language(language: str) -> None:
    """Speak `language` (one of LANGUAGES) in this thread from now on."""
    _language.set(check(language))


def language() -> str:
    return _language.get()


def closest(tag: str | None) -> str:
    """The site's language nearest a browser's language tag ("zh-CN", "zh-Hans-TW", "en-GB"...)."""
    if tag and tag.replace("_", "-").split("-")[0].lower() == "zh":
        return CHINESE
    return ENGLISH


def html_lang(language: str | None = None) -> str:
    """The BCP 47 tag for the page's lang attribute: "zh-CN" or "en"."""
    return check(language or _language.get()).replace("_", "-")


@functools.cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog (messages.mo) of `language` (English's msgstrs are empty: its msgids show)."""
    found = Translations.load(str(LOCALE_DIR), [check(language)], DOMAIN)
    if not isinstance(found, Translations):
        raise FileNotFoundError(f"no compiled catalog for {language} under {LOCALE_DIR}: run `make messages`")
    return found


def gettext(message: str) -> str:
    """`message` in the current language."""
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, by the current language's plural rule (Chinese has one form)."""
    return translations(_language.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "mark for extraction, translate later")
    """Marks `message` for the catalog where it is defined; translated where it is shown, with gettext."""
    return message


def restated(text: str | None, templates: Sequence[str]) -> str | None:
    """`text`, made in English from one of `templates` (N_() msgids with {placeholders}) and kept so
    (a note on the shared run board), in the current language; its values restated too. Text from
    no template comes back as it is."""
    if not text:
        return text
    # The template with the most words of its own first: "{rate}, less momentum" must not pass for a "{rate}".
    for template in sorted(templates, key=lambda t: len(_PLACEHOLDER.sub("", t)), reverse=True):
        parts = _PLACEHOLDER.split(template)  # literal, name, literal, name, ..., literal
        pattern = "".join(re.escape(part) if k % 2 == 0 else f"(?P<{part}>.*?)" for k, part in enumerate(parts))
        found = re.fullmatch(pattern, text, flags=re.DOTALL)
        if found:
            values = {name: restated(value, templates) for name, value in found.groupdict().items()}
            return gettext(template).format(**values)
    return text


def _locale() -> Locale:
    return Locale.parse(_language.get())


def number(value: float) -> str:
    """A count, grouped the language's way: 10,000."""
    return numbers.format_decimal(value, locale=_locale())


def percent(fraction: float, decimals: int = 0) -> str:
    """A fraction as a percentage with `decimals` places: 0.9912 -> 99.1% (decimals=1)."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
    return numbers.format_percent(fraction, pattern, locale=_locale())


def time_of_day(moment: dt.datetime) -> str:
    """A time of day in the server's time zone, the language's short way: 14:05."""
    return dates.format_time(moment.astimezone(), "short", locale=_locale())


def date(moment: dt.date | dt.datetime) -> str:
    """A date, the language's medium way: "Dec 4, 2026", "2026年12月4日"."""
    return dates.format_date(moment, "medium", locale=_locale())
