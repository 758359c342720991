"""Draw: a digit drawn with mouse or finger, what the live model reads, and what it saw."""
import altair  # noqa: F401 - for st.bar_chart; imported with the page, so the first answer is not kept waiting
import pandas as pd
import streamlit as st
from streamlit_drawable_canvas import st_canvas  # only importable inside a Streamlit run

from mnistcore.answer import read_answer
from mnistcore.pictures import square
from mnistcore.preprocess import canvas_steps
from pages.common import open_page, require_live_model

HINT = "Draw a digit (0 to 9) in the black box, as large as the box allows. The answer appears here."


def canvas_key() -> str:
    # Clearing gives the canvas a new key, which mounts a fresh, empty one. The first canvas is
    # plainly "canvas", so tests can hand it a drawing through st.session_state["canvas"].
    clears = st.session_state.get("clears", 0)
    return "canvas" if clears == 0 else f"canvas-{clears}"


def clear() -> None:
    st.session_state.clears = st.session_state.get("clears", 0) + 1


open_page("Draw a digit")
live = require_live_model()

left, right = st.columns([1, 1], gap="large")
with left:
    st.space("small")  # room for the canvas' own toolbar, which sits just above it
    drawing = st_canvas(fill_color="#FFFFFF", stroke_width=22, stroke_color="#FFFFFF", background_color="#000000",
                        height=280, width=280, drawing_mode="freedraw", key=canvas_key(),
                        return_image_data=True)
    st.button("Clear", icon=":material/ink_eraser:", on_click=clear)

with right:
    image = drawing.image_data
    try:
        steps = canvas_steps(image) if image is not None else None
    except ValueError as err:
        st.error(f"This drawing cannot be read: {err}. Clear it and try again.")
        st.stop()
    if steps is None:
        st.info(HINT, icon=":material/draw:")
        st.stop()
    answer = read_answer(live.model.predict_proba(steps.centred)[0])
    st.header(answer.headline, anchor=False)
    if answer.doubt:
        st.warning(f"The model is {answer.doubt} ({answer.probability:.0%} against {answer.runner_up_probability:.0%})")
    else:
        st.caption(f"{answer.probability:.0%} sure.")
    chances = pd.DataFrame({"probability": answer.probabilities}, index=[str(d) for d in range(10)])
    st.bar_chart(chances, x_label="digit", y_label="probability", height=220)

st.subheader("What the model sees")
st.caption("Your drawing is turned into an MNIST-style image the way MNIST itself was made: "
           "cropped to the ink, scaled so the longer side is 20 pixels, then centred in 28 × 28.")
st.image([square(steps.ink, 140), square(steps.cropped, 140), square(steps.scaled, 140), square(steps.centred, 140)],
         caption=["as drawn", "cropped", "scaled to 20 px", "centred in 28 × 28"], width=140)
