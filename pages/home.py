"""Home: the front door. One obvious way to try the model (draw a digit), then every page."""
import streamlit as st

from ui.chrome import live_banner, open_page, when
from ui.resources import slot
from ui.text import N_, _, number, percent, visitor_name
from ui.visitor import access

# (page, link text, what it is for): short link texts, so that none is cut off on a phone.
PAGES = [
    ("pages/draw.py", N_("Draw a digit"), ":material/draw:",
     N_("Draw with your finger or mouse, or photograph a digit on paper: see what the live model reads.")),
    ("pages/gallery.py", N_("Gallery"), ":material/grid_view:",
     N_("The {count} test digits with the live model's answers: find the ones it gets wrong.")),
    ("pages/train.py", N_("Train"), ":material/model_training:",
     N_("Train a network yourself: pick its settings, watch it learn, make it the live model.")),
    ("pages/handwriting.py", N_("Lab handwriting"), ":material/history_edu:",
     N_("How well the live model reads the digits people drew here.")),
    ("pages/inside.py", N_("Look inside"), ":material/visibility:",
     N_("What the network's hidden units look for, and the digits it imagines.")),
]

open_page(N_("MNIST Lab"))
st.header(_("Can a computer read your handwriting?"), anchor=False)
st.markdown(_("This network learned from **{count} handwritten digits**. Draw one of your own and see what it "
              "reads.").format(count=number(60_000)))
if st.button(_("Draw a digit"), type="primary", icon=":material/draw:", width="stretch", key="start_drawing"):
    st.switch_page("pages/draw.py")
live_banner()

status = slot().status()
if status is not None and status.running:
    st.info(_("{who} is training a model right now ({done} done, expected to finish around {end}).").format(
            who=visitor_name(status.label), done=percent(status.fraction), end=when(status.expected_end)),
            icon=":material/hourglass_top:")

rules = access()
st.header(_("Everything in the lab"), anchor=False)
for n, (page, label, icon, what) in enumerate(PAGES):
    if n % 2 == 0:
        row = iter(st.columns(2))  # row by row: on a phone the cards then stack in this order
    what = _(what).format(count=number(10_000))
    if page == "pages/train.py" and not rules.open:
        what += " " + (_("(In this demo, training needs the lab's passcode.)") if rules.passcode
                       else _("(In this demo, training is off.)"))
    with next(row).container(border=True):
        st.page_link(page, label=f"**{_(label)}**", icon=icon)
        st.caption(what)
