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
from ui.handwriting import measured_section, review_section
from ui.resources import feedback_store, handwriting_reports, mnist, store
from ui.text import public

log = logging.getLogger("mnistlab")

open_page("Lab handwriting")
live = require_live_model()
trained_up_to = handwriting.trained_up_to(live.info)
try:
    lab = feedback_store()
    with st.spinner("The live model is reading the lab's drawings…"):  # only the first visitor after a change waits
        report = handwriting_reports().report(live.id, live.model, trained_up_to or 0)
except (FeedbackError, OSError) as err:
    log.error("lab handwriting: the drawings cannot be read: %s", err)
    st.error(f"The lab's drawings cannot be read: {public(err)}")
    st.stop()
if report.collected == 0:
    st.info("No drawings yet. Draw a digit on the Draw page and tell the model whether it was right: "
            "every answer is collected here, to see how well the model reads the lab's own handwriting.",
            icon=":material/draw:")
    st.page_link("pages/draw.py", label="Go to Draw", icon=":material/draw:")
    st.stop()

(_, _), (x_test, y_test) = mnist()
with st.spinner("The live model is reading the 10,000 test digits…"):
    on_mnist = store().evaluation(live, x_test, y_test)

a, b, c = st.columns(3)
a.metric("On the lab's drawings", f"{report.evaluation.accuracy:.2%}" if len(report) else "—",
         help="The live model, reading the drawings it did not train on, whose labels stand.")
b.metric("On MNIST's test digits", f"{on_mnist.accuracy:.2%}", help="The same model, on MNIST's 10,000 test digits.")
c.metric("Drawings collected", f"{report.collected:,}",
         help=f"When they were drawn, the model live at the time read {report.accuracy_then:.0%} of them right."
         if len(report) else None)
measured = [f"Measured on {len(report):,} drawing{'' if len(report) == 1 else 's'} the live model did not train on"]
if report.trained_on:
    measured.append(f"it trained on {report.trained_on:,} more")
if report.held:
    measured.append(f"{report.held:,} held for review")
if report.rejected:
    measured.append(f"{report.rejected:,} with rejected labels")
st.caption("; ".join(measured) + ".")
if trained_up_to is None:
    st.warning("The live model's file does not say which of the lab's drawings it trained on, so some of these "
               "may be drawings it has seen.")
if len(report):
    measured_section(report, on_mnist)
else:
    st.info("The live model trained on every drawing collected so far, so they cannot tell how well it reads new "
            "ones. Draw some on the Draw page.", icon=":material/draw:")
kind, notice = st.session_state.pop("review_notice", (None, None))  # what the last Accept or Reject did
if notice:
    (st.success if kind == "success" else st.error)(notice)
if report.held:
    review_section(report)

st.subheader("Download")
if report.usable <= lab.download_rows:
    st.caption("Every labelled drawing (but those held for review or rejected), as 28 × 28 images "
               "(0 = background) with the visitor's digit.")
else:
    st.caption(f"The newest {lab.download_rows:,} of the {report.usable:,} labelled drawings (a download holds "
               f"{lab.download_rows:,} at most, to stay small; none held for review or rejected), as 28 × 28 "
               "images (0 = background) with the visitor's digit.")
left, right = st.columns(2)
# Made when clicked, once per version of the collection, and shared by everybody who clicks.
left.download_button("CSV (the tutorial's format)", lambda: lab.download("csv").data, file_name="lab_handwriting.csv",
                     mime="text/csv", icon=":material/download:", on_click="ignore",
                     help="One row per drawing: the digit, then 784 pixel values 0-255, like mnist_train.csv.")
right.download_button("NPZ (NumPy)", lambda: lab.download("npz").data, file_name="lab_handwriting.npz",
                      mime="application/octet-stream", icon=":material/download:", on_click="ignore",
                      help="images, labels, and the model's answer, confidence and the drawing's size at the time.")
