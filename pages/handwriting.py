"""Lab handwriting: how the live model reads the drawings visitors labelled, beside MNIST.

A page view costs one page of drawings, not the whole collection: the report is worked out once
per (live model, drawings) for everybody (mnistcore.lab.handwriting.HandwritingReports), the
gallery reads only the drawings it shows, and the downloads are made once and shared.
"""
import logging

import pandas as pd
import streamlit as st

from mnistcore.explain import gallery
from mnistcore.explain.pictures import tiles
from mnistcore.lab import handwriting
from mnistcore.lab.feedback import FeedbackError
from ui.chrome import open_page, require_live_model
from ui.resources import feedback_store, handwriting_reports, mnist, store
from ui.text import public

log = logging.getLogger("mnistlab")
open_page("Lab handwriting")
live = require_live_model()
try:
    lab = feedback_store()
    with st.spinner("The live model is reading the lab's drawings…"):  # only the first visitor after a change waits
        report = handwriting_reports().report(live.id, live.model)
except (FeedbackError, OSError) as err:
    log.error("lab handwriting: the drawings cannot be read: %s", err)
    st.error(f"The lab's drawings cannot be read: {public(err)}")
    st.stop()
if len(report) == 0:
    st.info("No drawings yet. Draw a digit on the Draw page and tell the model whether it was right: "
            "every answer is collected here, to see how well the model reads the lab's own handwriting.",
            icon=":material/draw:")
    st.page_link("pages/draw.py", label="Go to Draw", icon=":material/draw:")
    st.stop()

(_, _), (x_test, y_test) = mnist()
with st.spinner("The live model is reading the 10,000 test digits…"):
    on_mnist = store().evaluation(live, x_test, y_test)

a, b, c = st.columns(3)
a.metric("On the lab's drawings", f"{report.evaluation.accuracy:.2%}",
         help="The live model, reading every drawing visitors labelled.")
b.metric("On MNIST's test digits", f"{on_mnist.accuracy:.2%}", help="The same model, on MNIST's 10,000 test digits.")
c.metric("Drawings collected", f"{len(report):,}",
         help=f"When they were drawn, the model live at the time read {report.accuracy_then:.0%} of them right.")

st.subheader("Digit by digit")
table = pd.DataFrame(handwriting.per_digit(report, on_mnist))
st.dataframe(table, hide_index=True, column_config={
    "digit": st.column_config.NumberColumn("Digit"),
    "drawings": st.column_config.ProgressColumn("Drawings", min_value=0, max_value=int(report.counts.max()),
                                                format="%d"),
    "lab accuracy": st.column_config.ProgressColumn("On the lab's drawings", min_value=0.0, max_value=1.0,
                                                    format="percent"),
    "MNIST test accuracy": st.column_config.ProgressColumn("On MNIST's test digits", min_value=0.0, max_value=1.0,
                                                           format="percent"),
})

st.subheader("What it gets wrong")
only_mistakes = st.toggle("Only mistakes", value=True, key="lab_only_mistakes")
shown = gallery.select(report.labels, report.evaluation.predictions, report.evaluation.confidence,
                       gallery.GalleryFilter(only_mistakes=only_mistakes))
if len(shown) == 0:
    st.success("The live model reads every drawing right.", icon=":material/celebration:")
else:
    pages = gallery.page_count(len(shown))
    if st.session_state.get("lab_page", 1) > pages:  # fewer pages than before (the toggle changed)
        del st.session_state["lab_page"]
    number = st.pagination(pages, key="lab_page") if pages > 1 else 1
    page = gallery.page(shown, number)
    try:
        drawings = lab.rows(report.ids[page])  # only the drawings on this page
    except (FeedbackError, KeyError) as err:
        log.error("lab handwriting: a page of drawings cannot be read: %s", err)
        st.error(f"The drawings on this page cannot be read: {public(err)}")
        st.stop()
    st.caption("Under each drawing: what the live model reads now and how sure it is; mistakes are framed in red "
               "(\"✗ 4, is 9\": it read 4, the visitor drew a 9).")
    st.image(tiles(drawings.images, report.mistakes[page]),
             caption=gallery.captions(report.labels, report.evaluation.predictions, report.evaluation.confidence,
                                      page))

st.subheader("Download")
if len(report) <= lab.download_rows:
    st.caption("Every labelled drawing, as 28 × 28 images (0 = background) with the visitor's digit.")
else:
    st.caption(f"The newest {lab.download_rows:,} of the {len(report):,} labelled drawings (a download holds "
               f"{lab.download_rows:,} at most, to stay small), as 28 × 28 images (0 = background) with the "
               "visitor's digit.")
left, right = st.columns(2)
# Made when clicked, once per version of the collection, and shared by everybody who clicks.
left.download_button("CSV (the tutorial's format)", lambda: lab.download("csv").data, file_name="lab_handwriting.csv",
                     mime="text/csv", icon=":material/download:", on_click="ignore",
                     help="One row per drawing: the digit, then 784 pixel values 0-255, like mnist_train.csv.")
right.download_button("NPZ (NumPy)", lambda: lab.download("npz").data, file_name="lab_handwriting.npz",
                      mime="application/octet-stream", icon=":material/download:", on_click="ignore",
                      help="images, labels, and the model's answer, confidence and the drawing's size at the time.")
