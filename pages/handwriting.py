"""Lab handwriting: how the live model reads the drawings visitors labelled, beside MNIST.

A page view costs one page of drawings, not the whole collection: the report is worked out once
per (live model, drawings) for everybody (mnistcore.lab.handwriting.HandwritingReports), the
gallery reads only the drawings it shows, and the downloads are made once and shared.

The accuracy counts only drawings whose labels stand and that the live model did not train on.
Labels every model strongly disagrees with are held; whoever may train (the passcode, in demo
mode) accepts or rejects them here, a page at a time.
"""
import logging

import streamlit as st

from mnistcore.lab import handwriting
from mnistcore.lab.feedback import FeedbackError
from ui.chrome import open_page, require_live_model
from ui.handwriting import measured_section, not_digit_section, review_section
from ui.resources import feedback_store, handwriting_reports, mnist, store
from ui.text import N_, _, ngettext, number, percent, public

log = logging.getLogger("mnistlab")

open_page(N_("Lab handwriting"))
live = require_live_model()
trained_up_to = handwriting.trained_up_to(live.info)
try:
    lab = feedback_store()
    with st.spinner(_("The live model is reading the lab's drawings…")):  # only the first visitor after a change waits
        report = handwriting_reports().report(live.id, live.model, trained_up_to or 0)
        not_digits = handwriting_reports().not_digits()
        held = lab.held_count()  # digits and "not a digit" answers alike
except (FeedbackError, OSError) as err:
    log.error("lab handwriting: the drawings cannot be read: %s", err)
    st.error(_("The lab's drawings cannot be read: {error}").format(error=public(err)))
    st.stop()
if report.collected == 0 and not_digits.count == 0 and held == 0:
    st.info(_("No drawings yet. Draw a digit on the Draw page and tell the model whether it was right: "
              "every answer is collected here, to see how well the model reads the lab's own handwriting."),
            icon=":material/draw:")
    st.page_link("pages/draw.py", label=_("Go to Draw"), icon=":material/draw:")
    st.stop()

x_test, y_test = mnist()[1]  # the test set
with st.spinner(_("The live model is reading the {count} test digits…").format(count=number(10_000))):
    on_mnist = store().evaluation(live, x_test, y_test)

a, b, c = st.columns(3)
a.metric(_("On the lab's drawings"), percent(report.evaluation.accuracy, 2) if len(report) else "—",
         help=_("The live model, reading the drawings it did not train on, whose labels stand."))
b.metric(_("On MNIST's test digits"), percent(on_mnist.accuracy, 2),
         help=_("The same model, on MNIST's {count} test digits.").format(count=number(10_000)))
c.metric(_("Drawings collected"), number(report.collected),
         help=_("When they were drawn, the model live at the time read {right} of them right.").format(
             right=percent(report.accuracy_then)) if len(report) else None)
measured = [ngettext("Measured on {count} drawing the live model did not train on",
                     "Measured on {count} drawings the live model did not train on", len(report)).format(
    count=number(len(report)))]
if report.trained_on:
    measured.append(_("it trained on {count} more").format(count=number(report.trained_on)))
if held:
    measured.append(_("{count} held for review").format(count=number(held)))
if report.rejected:
    measured.append(_("{count} with rejected labels").format(count=number(report.rejected)))
st.caption(_("; ").join(measured) + _("."))
if trained_up_to is None:
    st.warning(_("The live model's file does not say which of the lab's drawings it trained on, so some of these "
                 "may be drawings it has seen."))
if len(report):
    measured_section(report, on_mnist)
elif report.collected:  # (with none collected, only drawings said not to be digits are here)
    st.info(_("The live model trained on every drawing collected so far, so they cannot tell how well it reads new "
              "ones. Draw some on the Draw page."), icon=":material/draw:")
kind, notice = st.session_state.pop("review_notice", (None, None))  # what the last Accept or Reject did
if notice:
    (st.success if kind == "success" else st.error)(notice)
if held:
    review_section(held)
if not_digits.count:
    not_digit_section(not_digits)

st.header(_("Download"), anchor=False)
if report.usable <= lab.download_rows:
    st.caption(_("Every labelled drawing (but those held for review or rejected), as 28 × 28 images "
                 "(0 = background) with the visitor's digit."))
else:
    st.caption(_("The newest {rows} of the {usable} labelled drawings (a download holds {rows} at most, to stay "
                 "small; none held for review or rejected), as 28 × 28 images (0 = background) with the visitor's "
                 "digit.").format(rows=number(lab.download_rows), usable=number(report.usable)))
left, right = st.columns(2)
# Made when clicked, once per version of the collection, and shared by everybody who clicks.
left.download_button(_("CSV (the tutorial's format)"), lambda: lab.download("csv").data,
                     file_name="lab_handwriting.csv", mime="text/csv", icon=":material/download:", on_click="ignore",
                     help=_("One row per drawing: the digit, then 784 pixel values 0-255, like mnist_train.csv."))
right.download_button(_("NPZ (NumPy)"), lambda: lab.download("npz").data, file_name="lab_handwriting.npz",
                      mime="application/octet-stream", icon=":material/download:", on_click="ignore",
                      help=_("images, labels, and the model's answer, confidence and the drawing's size at the time."))
