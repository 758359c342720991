"""MNIST Lab: the entry point only routes; each page lives in pages/."""
import streamlit as st

st.set_page_config(page_title="MNIST Lab", page_icon="✏️", layout="wide")

page = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/gallery.py", title="Gallery", icon=":material/grid_view:"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:"),
    st.Page("pages/board.py", title="Class board", icon=":material/leaderboard:"),
    st.Page("pages/handwriting.py", title="Lab handwriting", icon=":material/history_edu:"),
    st.Page("pages/inside.py", title="Look inside", icon=":material/visibility:"),
], position="top")  # a bar across the top: on a phone, a menu that closes once a page is chosen
page.run()
