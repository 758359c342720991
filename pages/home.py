"""Home: what the lab is, where to go, which model is live."""
import streamlit as st

from ui.chrome import live_banner, open_page, when
from ui.resources import slot
from ui.visitor import access

open_page("MNIST Lab")
live_banner()

st.markdown(
    "This lab is about teaching a computer to read handwritten digits. The network learns from "
    "**60,000 handwritten digits** (the MNIST collection) and is then tested on **10,000 it has "
    "never seen**. One model is *live* at a time: it is the one everybody's Gallery and Draw pages use."
)

rules = access()
train = "**Train** a network yourself: pick its settings, watch it learn, and publish it if it beats the live one."
if not rules.open:
    why = "training needs the lab's passcode in this demo" if rules.passcode else "training is off in this demo"
    train = f"**Train**: watch training, and see the earlier models ({why})."
st.page_link("pages/train.py", label=train, icon=":material/model_training:")
st.page_link("pages/gallery.py", label="**Gallery**: browse the test digits with the live model's answers, "
             "and see which ones it gets wrong.", icon=":material/grid_view:")
st.page_link("pages/draw.py", label="**Draw** a digit with your mouse or finger and see what the live model "
             "reads.", icon=":material/draw:")

status = slot().status()
if status is not None and status.running:
    st.info(f"{status.label} is training a model right now ({status.fraction:.0%} done, "
            f"expected to finish around {when(status.expected_end)}).", icon=":material/hourglass_top:")
