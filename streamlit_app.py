"""MNIST Lab: the entry point only routes; each page lives in pages/."""
import streamlit as st

from ui import uploads
from ui.language import use
from ui.text import _

uploads.install()  # uploads only for an uploader on the page, so many per visit (ui/uploads.py)

st.set_page_config(page_title="MNIST Lab", page_icon="✏️", layout="wide")
use()  # the navigation's titles are the first words on the page

page = st.navigation([
    st.Page("pages/home.py", title=_("Home"), icon=":material/home:", default=True),
    st.Page("pages/train.py", title=_("Train"), icon=":material/model_training:"),
    st.Page("pages/gallery.py", title=_("Gallery"), icon=":material/grid_view:"),
    st.Page("pages/draw.py", title=_("Draw"), icon=":material/draw:"),
    st.Page("pages/board.py", title=_("Class board"), icon=":material/leaderboard:"),
    st.Page("pages/handwriting.py", title=_("Lab handwriting"), icon=":material/history_edu:"),
    st.Page("pages/inside.py", title=_("Look inside"), icon=":material/visibility:"),
], position="top")  # a bar across the top: on a phone, a menu that closes once a page is chosen
page.run()
