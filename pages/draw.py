"""Draw: a digit drawn with mouse or finger, what the live model reads, and what it saw.

After each answer the visitor can say whether it was right; the drawing and its label go into the
lab's handwriting collection (mnistcore.lab.feedback), which the Lab handwriting page reports on.
"""
import logging

import altair  # noqa: F401 - for st.bar_chart; imported with the page, so the first answer is not kept waiting
import pandas as pd
import streamlit as st

from mnistcore.canvas import data_url_from, read_canvas_png
from mnistcore.explain.answer import Answer, judge, read_answer
from mnistcore.explain.pictures import enlarge, square
from mnistcore.lab import compare
from mnistcore.lab.feedback import FeedbackError, fingerprint
from mnistcore.photo import MAX_BYTES, photo_steps, read_photo
from mnistcore.preprocess import drawing_steps
from ui.chrome import open_page, require_live_model
from ui.drawpad import SIDE, draw_pad
from ui.resources import digit_reference, feedback_store, nearest_images, saved_model, store, warm_up
from ui.text import public
from ui.visitor import drawing_budget_problem

SOURCES = {"draw": ":material/draw: Draw", "paper": ":material/photo_camera: Digit on paper"}
CAMERA, UPLOAD = "camera", "upload"
PAPER_HINT = "Write a digit on paper with a dark pen, large, then take a photo of it or upload one."
ANSWER_HEIGHT = 110  # pixels above the canvas for the answer, the hint or a problem
CANVAS = "canvas"  # the canvas' key: tests hand it a drawing through st.session_state["canvas"]
log = logging.getLogger("mnistlab")
HINT = "Draw a digit (0 to 9) in the black box, as large as the box allows."


def save(label: int | None, drawing_id: str, image, raw_size, answer: Answer, model: str) -> None:
    """Store the drawing with the visitor's label, once (a button's or the digit picker's callback)."""
    if label is None or drawing_id in st.session_state.setdefault("saved", {}):
        return
    problem = drawing_budget_problem()
    if problem is not None:
        st.session_state.save_error = (drawing_id, problem)
        return
    try:
        feedback_store().add(image, label=label, predicted=answer.digit, confidence=answer.probability,
                             model=model, raw_size=raw_size)
    except (FeedbackError, OSError) as err:
        st.session_state.save_error = (drawing_id, f"Your answer could not be saved: {public(err)}")
        return
    too = " too" if label == answer.digit else ""
    st.session_state.saved[drawing_id] = f"Saved: you said {label}; the model said {answer.digit}{too}. Thank you!"


def save_picked(key: str, *args) -> None:
    save(st.session_state.get(key), *args)


def read_drawing():
    """The drawing's preprocessing steps, None while nothing is drawn, or why it cannot be read.

    Read from the canvas' value before the canvas is drawn, so that the answer can stand above
    it (on a phone, canvas and answer then fit on one screen)."""
    try:
        data_url = data_url_from(st.session_state.get(CANVAS))
        return drawing_steps(read_canvas_png(data_url, SIDE, SIDE)) if data_url is not None else None
    except ValueError as err:  # DrawingError, or a picture preprocessing cannot use
        log.warning("draw: refused a drawing: %s", err)
        return f"This drawing cannot be read: {err}. Clear it and try again."


def read_paper():
    """The photo's preprocessing steps (the camera's, else the uploaded one), None while there is
    no photo, or why it cannot be read. Read once per picture: finding the ink takes ~0.1 s."""
    picture = st.session_state.get(CAMERA) or st.session_state.get(UPLOAD)
    if picture is None:
        return None
    known = st.session_state.get("paper")
    if known is not None and known[0] == picture.file_id:
        return known[1]
    try:
        steps = photo_steps(read_photo(picture.getvalue()))
    except ValueError as err:  # PhotoError, or a picture preprocessing cannot use
        log.warning("draw: refused a photo: %s", err)
        steps = f"This picture cannot be read: {err}. Try another one."
    if steps is None:
        steps = "No digit found in this picture: write it large with a dark pen, with paper all round it."
    st.session_state.paper = (picture.file_id, steps)
    return steps


open_page("Draw a digit")
live = require_live_model()
warm_up()
on_paper = st.segmented_control("Read a digit", list(SOURCES), default="draw", format_func=SOURCES.get,
                                key="source", label_visibility="collapsed") == "paper"
steps = read_paper() if on_paper else read_drawing()

left, right = st.columns([1, 1], gap="large")
with left, st.container(height=ANSWER_HEIGHT, border=False):
    # A fixed height: the canvas below must not move between strokes (a 4 is drawn in two).
    answer = None
    if isinstance(steps, str):
        st.error(steps)
    elif steps is None:
        st.info(PAPER_HINT if on_paper else HINT, icon=":material/photo_camera:" if on_paper else ":material/draw:")
    else:
        probabilities = live.model.predict_proba(steps.centred)[0]
        # The MNIST look-alike check is tuned to the canvas' pen: photos get the shape checks only.
        verdict = judge(steps, probabilities, reference=None if on_paper else digit_reference())
        if verdict.kind != "digit":  # too small, a dot, a line, a blob, two digits, not a digit
            st.info(verdict.message, icon=":material/draw:")
        else:
            answer = read_answer(probabilities)  # the model's own figures, for the lab's record
            st.header(verdict.headline, anchor=False)
            if verdict.words.startswith("guessing"):
                st.warning(f"The model is {verdict.words} ({verdict.chance} for {verdict.digit}).")
            else:
                st.caption(f"{verdict.words.capitalize()} ({verdict.chance}).")
with left:
    if on_paper:
        st.camera_input("Take a photo of a digit on paper", key=CAMERA)
        st.file_uploader("…or upload a picture (on a phone: your camera app)", type=["jpg", "jpeg", "png", "webp"],
                         key=UPLOAD, max_upload_size=MAX_BYTES // 2**20)
    else:
        try:
            draw_pad(CANVAS)
        except Exception:  # noqa: BLE001 - what the browser sent broke the component: say so, log the rest
            log.warning("draw: the canvas component failed on what a browser sent", exc_info=True)
            st.error("This drawing cannot be read. Clear it and try again.")
if answer is None:
    st.stop()

with right:
    chances = pd.DataFrame({"probability": verdict.probabilities}, index=[str(d) for d in range(10)])
    st.bar_chart(chances, x_label="digit", y_label="probability", height=180)

    st.subheader("Was I right?", anchor=False)
    drawing_id = fingerprint(steps.centred)  # a new stroke makes a new drawing, saved or not
    details = (drawing_id, steps.centred, steps.ink.shape, answer, f"{live.name}: {live.info.summary()}")
    if drawing_id in st.session_state.get("saved", {}):
        st.success(st.session_state.saved[drawing_id], icon=":material/check_circle:")
    else:
        st.button(f"Yes, it's a {answer.digit}", key="confirm", type="primary", icon=":material/check:",
                  on_click=save, args=(answer.digit, *details))
        picker = f"right-digit-{drawing_id}"
        # Pills wrap onto a second line on a narrow screen: every digit stays on screen.
        st.pills("No, it's a …", list(range(10)), key=picker, on_change=save_picked, args=(picker, *details))
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
