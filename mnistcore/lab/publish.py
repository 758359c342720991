"""When a model may become the live one: the rule that protects everyone's Draw and Gallery pages.

One click on Publish (or Make live) changes the model every visitor uses. A model that is better
than the live one (a tie is not) and above the floor (an operator setting, `config.publish_floor`) goes live
without a question. A worse or level one, one under the floor, or one never tested is `risky`: it goes
live only after a confirmation that names both accuracies, and never in demo mode (where those
who have the passcode may still publish good models).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..i18n import gettext as _
from ..i18n import percent

GOOD, RISKY = "good", "risky"


@dataclass(frozen=True)
class PublishCheck:
    """What publishing a model would do, in plain words."""

    kind: str              # GOOD or RISKY
    headline: str          # the model's accuracy against the live one's
    warning: str | None    # RISKY: why this model should not go live
    confirm: str | None    # RISKY: the sentence a person ticks to publish it anyway

    @property
    def good(self) -> bool:
        return self.kind == GOOD


def check_publish(accuracy: float | None, live_accuracy: float | None, floor: float) -> PublishCheck:
    """How a model with test `accuracy` compares with the live model's and with the floor.

    `accuracy` None: never tested. `live_accuracy` None: no live model, or one never tested.
    """
    if not 0 <= floor <= 1:
        raise ValueError(f"floor must be a test accuracy from 0 to 1; got {floor!r}")
    live = (_("the live model has {accuracy}").format(accuracy=percent(live_accuracy, 2))
            if live_accuracy is not None else _("there is no tested live model"))
    if accuracy is None:
        return PublishCheck(RISKY, _("Never tested ({live}).").format(live=live),
                            _("Nobody knows how well this model reads digits."),
                            _("I know this model was never tested, and I want everyone to use it anyway."))
    headline = _("Test accuracy: {accuracy} ({live}).").format(accuracy=percent(accuracy, 2), live=live)
    problems = []
    if accuracy < floor:
        problems.append(_("it reads fewer than {floor} of the test digits right").format(floor=percent(floor))
                        + (_(" — about as well as guessing") if accuracy < 0.2 else ""))
    if live_accuracy is not None and shown(accuracy) < shown(live_accuracy):
        problems.append(_("it is worse than the live model ({accuracy} against {live})").format(
            accuracy=percent(accuracy, 2), live=percent(live_accuracy, 2)))
    elif live_accuracy is not None and shown(accuracy) == shown(live_accuracy):
        problems.append(_("it is no better than the live model (both read {accuracy})").format(
            accuracy=percent(accuracy, 2)))
    if not problems:
        return PublishCheck(GOOD, headline, None, None)
    live_words = (_("the live model's {accuracy}").format(accuracy=percent(live_accuracy, 2))
                  if live_accuracy is not None else _("no tested live model"))
    return PublishCheck(RISKY, headline,
                        _("Not a good model for everyone: {problems}.").format(problems=_("; and ").join(problems)),
                        _("Yes: replace {live} with this model's {accuracy} for every visitor.").format(
                            live=live_words, accuracy=percent(accuracy, 2)))


def shown(accuracy: float) -> int:
    """An accuracy as the page shows it (hundredths of a percent): models that look level are level."""
    return round(accuracy * 10_000)


def refusal(check: PublishCheck, demo: bool, confirmed: bool) -> str | None:
    """Why this model may not go live now, in plain words; None when it may.

    `demo`: the server is in demo mode (only passcode holders publish, and only good models).
    `confirmed`: the person ticked the check's confirmation.
    """
    if check.good:
        return None
    if demo:
        return (_("In this demo only a model better than the live one, and above the lab's floor, can be "
                  "made live. ") + (check.warning or ""))
    if not confirmed:
        return _("Tick the box above to confirm first: ") + (check.confirm or "")
    return None


def best_first(entries, accuracy) -> list:
    """`entries` ordered best test accuracy first (untested last), for "Make live" to offer the best first.

    `accuracy(entry)` gives an entry's test accuracy or None; ties keep their order (newest first).
    """
    return sorted(entries, key=lambda e: -accuracy(e) if accuracy(e) is not None else 1.0)


def one_answer(confusion, share: float = 0.4) -> tuple[int, float] | None:
    """(digit, fraction) when a model gives one answer for more than `share` of the test images
    (a collapsed model says "2" to everything); else None. `confusion`: rows true, columns said."""
    said = [sum(row[column] for row in confusion) for column in range(len(confusion[0]))]
    total = sum(said)
    digit = max(range(len(said)), key=said.__getitem__)
    return (digit, said[digit] / total) if total and said[digit] / total > share else None
