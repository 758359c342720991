"""The visitor's label for a drawing ("Was I right?"): asked once per drawing, saved once, and
undone within minutes of a mis-tap.

The drawing and its label go into the lab's handwriting collection (mnistcore.lab.feedback), which
the Lab handwriting page reports on. What this visit saved is remembered in the session, by the
drawing's fingerprint: a rerun, or the same drawing drawn again, stores nothing twice.
"""
from __future__ import annotations

import logging

import streamlit as st

from mnistcore.explain.answer import Answer
from mnistcore.explain.reading import Reading
from mnistcore.lab import feedback, review
from mnistcore.lab.feedback import FeedbackError, UndoRefused, fingerprint
from mnistcore.lab.store import Live
from ui.language import use
from ui.resources import feedback_store
from ui.text import N_, _, ngettext, public
from ui.visitor import drawing_budget_problem, feedback_key

log = logging.getLogger("mnistlab")


TAKE_BACK = N_("Take back my answer")  # not "Undo": the canvas' own Undo stroke is on the same screen
NOT_A_DIGIT = "not a digit"        # the third answer to "Was I right?"


def ask(reading: Reading, live: Live) -> None:
    """"Yes, it's a 7", a digit picker and "That is not a digit", or what was saved for this drawing
    (with Take back my answer)."""
    answer, drawing_id = reading.answer, fingerprint(reading.centred)  # a new stroke makes a new drawing
    details = (drawing_id, reading.centred, reading.raw_size, answer, f"{live.name}: {live.info.summary()}",
               reading.verdict.probabilities)
    if drawing_id in st.session_state.get("saved", {}):
        st.success(st.session_state.saved[drawing_id], icon=":material/check_circle:")
        if drawing_id in st.session_state.get("saved_rows", {}):
            st.button(_(TAKE_BACK), key=f"undo-{drawing_id}", icon=":material/undo:", on_click=undo_saved,
                      args=(drawing_id,), help=_("A mis-tap? Take your answer back and choose again."))
    else:
        earlier_answer()
        st.button(_("Yes, it's a {digit}").format(digit=answer.digit), key="confirm", type="primary",
                  icon=":material/check:",
                  on_click=save, args=(answer.digit, *details))
        picker = f"right-digit-{drawing_id}"
        # Pills wrap onto a second line on a narrow screen (ui/assets/page.css): every digit stays on screen.
        st.pills(_("No, it's a …"), list(range(10)), key=picker, on_change=save_picked, args=(picker, *details))
        st.button(_("That is not a digit"), key="not-a-digit", icon=":material/block:",
                  on_click=save, args=(NOT_A_DIGIT, *details))
        st.caption(_("Your drawing and your answer are kept for the lab (nothing else: no name), to see how well "
                     "the model reads our own handwriting, and to train on it."))
    failed_id, problem = st.session_state.get("save_error", (None, None))
    if failed_id == drawing_id:  # shown with the drawing it is about
        st.error(problem)


def save(label: int | str | None, drawing_id: str, image, raw_size, answer: Answer, model: str, probabilities) -> None:
    """Store the drawing with the visitor's label, once (a button's or the digit picker's callback).

    `probabilities`: the live model's ten (calibrated, as the page shows them), which decide
    whether the label is held for review (mnistcore.lab.review)."""
    use()  # a callback of the Draw page's fragment runs before it: in the visitor's language too
    if label is None or drawing_id in st.session_state.setdefault("saved", {}):
        return
    problem = drawing_budget_problem()  # counted per save: an undo does not give it back
    if problem is not None:
        st.session_state.save_error = (drawing_id, problem)
        return
    try:
        not_digit = label == NOT_A_DIGIT
        row_id = feedback_store().add(image, label=answer.digit if not_digit else label, predicted=answer.digit,
                                      confidence=answer.probability, model=model, raw_size=raw_size,
                                      visitor=feedback_key(), probabilities=probabilities, not_digit=not_digit)
    except (FeedbackError, OSError) as err:
        problem = _("Your answer could not be saved: {reason}").format(reason=public(err))
        st.session_state.save_error = (drawing_id, problem)
        return
    if label == NOT_A_DIGIT:
        message = _("Saved: you said it is not a digit; the model said {model}. Thank you!")
    elif label == answer.digit:
        message = _("Saved: you said {label}; the model said {model} too. Thank you!")
    else:
        message = _("Saved: you said {label}; the model said {model}. Thank you!")
    message = message.format(label=label, model=answer.digit)
    # What add() decided: this label is held for review.
    if label == NOT_A_DIGIT and review.should_hold(None, probabilities):
        message += _(" The model reads a {digit} here: the lab will check your answer before it is "
                     "used.").format(digit=answer.digit)
    elif label != NOT_A_DIGIT and review.should_hold(label, probabilities):
        message += _(" The model is very sure it is a {digit}: the lab will check your answer before it is "
                     "used.").format(digit=answer.digit)
    st.session_state.saved[drawing_id] = message
    st.session_state.setdefault("saved_rows", {})[drawing_id] = row_id  # for Undo: this visit only
    st.session_state.last_saved = drawing_id


def earlier_answer() -> None:
    """The answer saved for the drawing before this one, while it can still be taken back: the
    canvas' Undo stroke makes a new drawing, and must not make a saved answer vanish unseen."""
    last = st.session_state.get("last_saved")
    if last is None or last not in st.session_state.get("saved_rows", {}):
        return
    st.caption(_("Your answer for the drawing before this one stays saved ({saved})").format(
        saved=st.session_state.saved[last]))
    st.button(_(TAKE_BACK), key=f"undo-{last}", icon=":material/undo:", on_click=undo_saved, args=(last,),
              help=_("Take back the answer you saved for the drawing before this one."))


def save_picked(key: str, *args) -> None:
    """The digit picker's callback: save the digit picked under `key`."""
    save(st.session_state.get(key), *args)


def undo_saved(drawing_id: str) -> None:
    """Take back the label just saved for this drawing (Take back my answer's callback)."""
    use()  # as in save
    row_id = st.session_state.get("saved_rows", {}).pop(drawing_id, None)
    if row_id is None:
        return
    try:
        feedback_store().undo(row_id, feedback_key())
    except UndoRefused as err:  # too late, or gone already: the label stays as saved
        log.info("draw: undo of drawing %s refused: %s", row_id, err)
        minutes = feedback.UNDO_SECONDS // 60
        problem = ngettext("Too late to undo: a label can be taken back for {minutes} minute after it is saved.",
                           "Too late to undo: a label can be taken back for {minutes} minutes after it is saved.",
                           minutes).format(minutes=minutes)
        st.session_state.save_error = (drawing_id, problem)
        return
    except (FeedbackError, OSError) as err:
        st.session_state.saved_rows[drawing_id] = row_id  # it can be tried again
        problem = _("Your answer could not be undone: {reason}").format(reason=public(err))
        st.session_state.save_error = (drawing_id, problem)
        return
    del st.session_state.saved[drawing_id]
    st.session_state.pop(f"right-digit-{drawing_id}", None)  # the digit picker starts empty again
