"""Draw: a digit drawn with mouse or finger, what the live model reads, and what it saw.

After each answer the visitor can say whether it was right; the drawing and its label go into the
lab's handwriting collection (mnistcore.lab.feedback), which the Lab handwriting page reports on.
"""
import altair  # noqa: F401 - for st.bar_chart; imported with the page, so the first answer is not kept waiting
import pandas as pd
import streamlit as st
from streamlit_drawable_canvas import st_canvas  # only importable inside a Streamlit run

from mnistcore.lab import compare
from mnistcore.explain.answer import Answer, read_answer
from mnistcore.lab.feedback import FeedbackError, fingerprint
from mnistcore.explain.pictures import enlarge, square
from mnistcore.preprocess import canvas_steps
from ui.chrome import open_page, require_live_model
from ui.resources import feedback_store, nearest_images, saved_model, store

HINT = "Draw a digit (0 to 9) in the black box, as large as the box allows. The answer appears here."


def canvas_key() -> str:
    # Clearing gives the canvas a new key, which mounts a fresh, empty one. The first canvas is
    # plainly "canvas", so tests can hand it a drawing through st.session_state["canvas"].
    clears = st.session_state.get("clears", 0)
    return "canvas" if clears == 0 else f"canvas-{clears}"


def clear() -> None:
    st.session_state.clears = st.session_state.get("clears", 0) + 1


def save(label: int | None, drawing_id: str, image, raw_size, answer: Answer, model: str) -> None:
    """Store the drawing with the visitor's label, once (a button's or the digit picker's callback)."""
    if label is None or drawing_id in st.session_state.setdefault("saved", {}):
        return
    try:
        feedback_store().add(image, label=label, predicted=answer.digit, confidence=answer.probability,
                             model=model, raw_size=raw_size)
    except (FeedbackError, OSError) as err:
        st.session_state.save_error = (drawing_id, f"Your answer could not be saved: {err}")
        return
    too = " too" if label == answer.digit else ""
    st.session_state.saved[drawing_id] = f"Saved: you said {label}; the model said {answer.digit}{too}. Thank you!"


def save_picked(key: str, *args) -> None:
    save(st.session_state.get(key), *args)


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


st.subheader("Was I right?", anchor=False)
drawing_id = fingerprint(steps.centred)  # a new stroke makes a new drawing, saved or not
details = (drawing_id, steps.centred, steps.ink.shape, answer, f"{live.name}: {live.info.summary()}")
if drawing_id in st.session_state.get("saved", {}):
    st.success(st.session_state.saved[drawing_id], icon=":material/check_circle:")
else:
    yes, no = st.columns([1, 3], vertical_alignment="bottom")
    yes.button(f"Yes, it's a {answer.digit}", key="confirm", type="primary", icon=":material/check:",
               on_click=save, args=(answer.digit, *details), width="stretch")
    picker = f"right-digit-{drawing_id}"
    no.segmented_control("No, it's a …", list(range(10)), key=picker, on_change=save_picked,
                         args=(picker, *details), width="stretch")
    st.caption("Your drawing and your answer are kept for the lab (nothing else: no name), to see how well "
               "the model reads our own handwriting, and to train on it.")
failed_id, problem = st.session_state.get("save_error", (None, None))
if failed_id == drawing_id:  # shown with the drawing it is about
    st.error(problem)

st.subheader("What the model sees")
st.caption("Your drawing is turned into an MNIST-style image the way MNIST itself was made: "
           "cropped to the ink, scaled so the longer side is 20 pixels, then centred in 28 × 28.")
st.image([square(steps.ink, 140), square(steps.cropped, 140), square(steps.scaled, 140), square(steps.centred, 140)],
         caption=["as drawn", "cropped", "scaled to 20 px", "centred in 28 × 28"], width=140)

# The expander runs its content only while open (on_change="rerun" makes `.open` known): asking
# the saved Keras models imports TensorFlow, which nobody should wait for unasked.
box = st.expander("Compare every saved model", key="compare", on_change="rerun", icon=":material/compare_arrows:")
with box:
    if box.open:
        runs = store().runs()
        with st.spinner(f"Asking {len(runs)} saved models… (the first Keras model takes a few seconds to load)"):
            verdicts = compare.compare(steps.centred, runs, saved_model)
        st.caption("Every model saved on this server (published on the Train page, plus the shipped default) "
                   "reads the same 28 × 28 image.")
        st.dataframe(pd.DataFrame(compare.table(verdicts)), hide_index=True, column_config={
            "model": st.column_config.TextColumn("Model"),
            "test accuracy": st.column_config.NumberColumn("Test acc.", format="percent", width="small"),
            "trained": st.column_config.TextColumn("Trained (UTC)"),
            "answer": st.column_config.TextColumn("Answer", width="small"),
            "probability": st.column_config.ProgressColumn("Sure", min_value=0.0, max_value=1.0, format="percent",
                                                          width="small"),
            "0 to 9": st.column_config.BarChartColumn("Probabilities, 0 to 9", y_min=0.0, y_max=1.0),
        })

st.subheader("The closest MNIST training images")
st.caption("The three of the 60,000 training digits that are most like your drawing, pixel by pixel.")
finder, (x_train, y_train) = nearest_images()  # last: without MNIST, the page stops here, saying why
nearest, _ = finder.nearest(steps.centred, k=3)
st.image([enlarge(x_train[i], 140) for i in nearest], caption=[f"a {y_train[i]} (no. {i:,})" for i in nearest],
         width=140)
