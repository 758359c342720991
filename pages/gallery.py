"""Gallery: the test digits with the live model's answers; mistakes in red; filters and pages."""
import pandas as pd
import streamlit as st

from mnistcore.explain import gallery
from mnistcore.explain.pictures import tiles
from ui.chrome import open_page, require_live_model
from ui.resources import mnist, store
from ui.text import N_, _, choose, number, percent

ANY = N_("any")
DIGITS = [ANY] + list(range(10))


def digit_words(d) -> str:
    """A digit filter's option as shown: "any" in the visitor's language, or the digit."""
    return _(d) if d == ANY else str(d)


def pick_cell() -> None:
    """Clicking a confusion-matrix cell sets the two digit filters to that cell."""
    cells = st.session_state.confusion.selection.cells
    if cells:
        row, column = cells[0]  # (row position, column name "said 7")
        st.session_state.true_digit, st.session_state.predicted_digit = int(row), int(column.split()[-1])
        st.session_state.only_mistakes = False  # a cell on the diagonal holds right answers
        st.session_state.pop("page", None)  # back to the first page (the widget's default)


open_page(N_("Gallery"))
live = require_live_model()
x_test, y_test = mnist()[1]  # the test set
with st.spinner(_("The live model is reading the {count} test digits…").format(count=number(10_000))):
    ev = store().evaluation(live, x_test, y_test)

wrong = gallery.mistakes(y_test, ev.predictions)
a, b = st.columns(2)
a.metric(_("Test accuracy"), percent(ev.accuracy, 2))
b.metric(_("Mistakes"), _("{wrong} of {count}").format(wrong=number(wrong.sum()), count=number(ev.count)))

with st.expander(_("Confusion matrix: which digits get mistaken for which"), expanded=False):
    st.caption(_("Each row is a true digit, each column what the model said; the diagonal holds the right "
                 "answers. Click a cell to see exactly those images below."))
    # The column names end in the digit (pick_cell reads it), in every language.
    st.dataframe(pd.DataFrame(ev.confusion, index=[_("true {digit}").format(digit=d) for d in range(10)],
                              columns=[_("said {digit}").format(digit=d) for d in range(10)]),
                 key="confusion", on_select=pick_cell, selection_mode="single-cell")

c1, c2, c3, c4 = st.columns(4)
only_mistakes = c1.checkbox(_("Only mistakes"), key="only_mistakes")
least_sure = c1.checkbox(_("Least sure first"), key="least_sure")
true_digit = choose(c2.selectbox, _("True digit"), DIGITS, key="true_digit", format_func=digit_words)
predicted_digit = choose(c3.selectbox, _("Predicted digit"), DIGITS, key="predicted_digit", format_func=digit_words)
choice = gallery.GalleryFilter(only_mistakes=only_mistakes,
                               true_digit=None if true_digit == ANY else true_digit,
                               predicted_digit=None if predicted_digit == ANY else predicted_digit,
                               least_sure_first=least_sure)
indices = gallery.select(y_test, ev.predictions, ev.confidence, choice)
c4.metric(_("Matching images"), number(len(indices)))

if len(indices) == 0:
    st.info(_("No test image matches ({which}).").format(which=choice.describe()))
    st.stop()
pages = gallery.page_count(len(indices))
if st.session_state.get("page", 1) > pages:  # the filters changed and the old page is gone
    del st.session_state["page"]
page_number = st.pagination(pages, key="page") if pages > 1 else 1
shown = gallery.page(indices, page_number)
st.caption(_("Showing {which}: page {page} of {pages}. Under each image: the model's answer and how sure it was. "
             "Mistakes are framed in red: \"{example}\" means it said 4 but the digit is a 9.").format(
           which=choice.describe(), page=page_number, pages=pages, example=gallery.caption(9, 4, None)))
st.image(tiles(x_test[shown], wrong[shown]), caption=gallery.captions(y_test, ev.predictions, ev.confidence, shown),
         alt=gallery.alt_texts(y_test, ev.predictions, ev.confidence, shown))
