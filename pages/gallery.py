"""Gallery: the test digits with the live model's answers; mistakes in red; filters and pages."""
import pandas as pd
import streamlit as st

from mnistcore.explain import gallery
from mnistcore.explain.pictures import tiles
from ui.chrome import open_page, require_live_model
from ui.resources import mnist, store

ANY = "any"
DIGITS = [ANY] + list(range(10))


def pick_cell() -> None:
    """Clicking a confusion-matrix cell sets the two digit filters to that cell."""
    cells = st.session_state.confusion.selection.cells
    if cells:
        row, column = cells[0]  # (row position, column name "said 7")
        st.session_state.true_digit, st.session_state.predicted_digit = int(row), int(column.split()[-1])
        st.session_state.only_mistakes = False  # a cell on the diagonal holds right answers
        st.session_state.pop("page", None)  # back to the first page (the widget's default)


open_page("Gallery")
live = require_live_model()
(_, _), (x_test, y_test) = mnist()
with st.spinner("The live model is reading the 10,000 test digits…"):
    ev = store().evaluation(live, x_test, y_test)

wrong = gallery.mistakes(y_test, ev.predictions)
a, b = st.columns(2)
a.metric("Test accuracy", f"{ev.accuracy:.2%}")
b.metric("Mistakes", f"{wrong.sum():,} of {ev.count:,}")

with st.expander("Confusion matrix: which digits get mistaken for which", expanded=False):
    st.caption("Each row is a true digit, each column what the model said; the diagonal holds the right "
               "answers. Click a cell to see exactly those images below.")
    st.dataframe(pd.DataFrame(ev.confusion, index=[f"true {d}" for d in range(10)],
                              columns=[f"said {d}" for d in range(10)]),
                 key="confusion", on_select=pick_cell, selection_mode="single-cell")

c1, c2, c3, c4 = st.columns(4)
only_mistakes = c1.checkbox("Only mistakes", key="only_mistakes")
least_sure = c1.checkbox("Least sure first", key="least_sure")
true_digit = c2.selectbox("True digit", DIGITS, key="true_digit")
predicted_digit = c3.selectbox("Predicted digit", DIGITS, key="predicted_digit")
choice = gallery.GalleryFilter(only_mistakes=only_mistakes,
                               true_digit=None if true_digit == ANY else true_digit,
                               predicted_digit=None if predicted_digit == ANY else predicted_digit,
                               least_sure_first=least_sure)
indices = gallery.select(y_test, ev.predictions, ev.confidence, choice)
c4.metric("Matching images", f"{len(indices):,}")

if len(indices) == 0:
    st.info(f"No test image matches ({choice.describe()}).")
    st.stop()
pages = gallery.page_count(len(indices))
if st.session_state.get("page", 1) > pages:  # the filters changed and the old page is gone
    del st.session_state["page"]
number = st.pagination(pages, key="page") if pages > 1 else 1
shown = gallery.page(indices, number)
st.caption(f"Showing {choice.describe()}: page {number} of {pages}. Under each image: the model's answer and how "
           "sure it was. Mistakes are framed in red: \"✗ 4, is 9\" means it said 4 but the digit is a 9.")
st.image(tiles(x_test[shown], wrong[shown]), caption=gallery.captions(y_test, ev.predictions, ev.confidence, shown))
