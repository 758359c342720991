"""Home: the front door. One obvious way to try the model (draw a digit), then every page."""
import streamlit as st

from ui.chrome import live_banner, open_page, when
from ui.resources import slot
from ui.text import plain
from ui.visitor import access

# (page, link text, what it is for): short link texts, so that none is cut off on a phone.
PAGES = [
    ("pages/draw.py", "Draw a digit", ":material/draw:",
     "Draw with your finger or mouse, or photograph a digit on paper: see what the live model reads."),
    ("pages/gallery.py", "Gallery", ":material/grid_view:",
     "The 10,000 test digits with the live model's answers: find the ones it gets wrong."),
    ("pages/train.py", "Train", ":material/model_training:",
     "Train a network yourself: pick its settings, watch it learn, make it the live model."),
    ("pages/handwriting.py", "Lab handwriting", ":material/history_edu:",
     "How well the live model reads the digits people drew here."),
    ("pages/inside.py", "Look inside", ":material/visibility:",
     "What the network's hidden units look for, and the digits it imagines."),
]

open_page("MNIST Lab")
st.markdown("### Can a computer read your handwriting?")
st.markdown("This network learned from **60,000 handwritten digits**. Draw one of your own and see what it reads.")
if st.button("Draw a digit", type="primary", icon=":material/draw:", width="stretch", key="start_drawing"):
    st.switch_page("pages/draw.py")
live_banner()

status = slot().status()
if status is not None and status.running:
    st.info(f"{plain(status.label)} is training a model right now ({status.fraction:.0%} done, "
            f"expected to finish around {when(status.expected_end)}).", icon=":material/hourglass_top:")

rules = access()
st.subheader("Everything in the lab", anchor=False)
for n, (page, label, icon, what) in enumerate(PAGES):
    if n % 2 == 0:
        row = iter(st.columns(2))  # row by row: on a phone the cards then stack in this order
    if page == "pages/train.py" and not rules.open:
        what += " (In this demo, training " + ("needs the lab's passcode.)" if rules.passcode else "is off.)")
    with next(row).container(border=True):
        st.page_link(page, label=f"**{label}**", icon=icon)
        st.caption(what)
