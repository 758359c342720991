"""Draw: a digit drawn with mouse or finger, what the live model reads, and what it saw.

After each answer the visitor can say whether it was right; the drawing and its label go into the
lab's handwriting collection (mnistcore.lab.feedback), which the Lab handwriting page reports on.

Light on the server, since a crowd draws at once: a new stroke reruns only `reading` (an
st.fragment: no title, banner or menu), and everything worked out from one drawing (the steps,
the model's answer, the verdict, the nearest images, the pictures as PNG) is worked out once and
kept in the visitor's session (`Reading`), so a click on "Yes" or on a pill costs nothing again.
"""
import hashlib
import logging
from dataclasses import dataclass, replace

import streamlit as st

from mnistcore.canvas import data_url_from, read_canvas_png
from mnistcore.explain.answer import Answer, DrawingVerdict, judge_drawing, read_answer, temperature_for
from mnistcore.explain.pictures import shrink, square
from mnistcore.lab import compare, feedback, review
from mnistcore.lab.feedback import FeedbackError, UndoRefused, fingerprint
from mnistcore.lab.store import Live
from mnistcore.photo import MAX_BYTES, photo_steps, read_photo
from mnistcore.preprocess import ink_steps
from ui.chrome import open_page, require_live_model
from ui.drawpad import SIDE, chance_bars, draw_pad, figures, fix_toolbars, picture_url, section, training_picture
from ui.resources import (READS, digit_reference, feedback_store, nearest_images, nearest_training_images, saved_model,
                          store, warm_up)
from ui.text import public
from ui.visitor import drawing_budget_problem, feedback_key

SOURCES = {"draw": ":material/draw: Draw", "paper": ":material/photo_camera: Digit on paper"}
CAMERA, UPLOAD = "camera", "upload"
PAPER_HINT = "Write a digit on paper with a dark pen, large, then take a photo of it or upload one."
ANSWER_HEIGHT = 110  # pixels above the canvas for the answer, the hint or a problem
CANVAS = "canvas"  # the canvas' key: tests hand it a drawing through st.session_state["canvas"]
LAST_DIGIT = "last_digit"  # the visitor's last drawing as the model sees it: (28, 28) float32 in [0, 1]
log = logging.getLogger("mnistlab")
HINT = "Draw a digit (0 to 9) in the black box, as large as the box allows."
SHOW_PICTURES = "show_pictures"  # the button that asks for the pictures a busy server left out
STEP_CAPTIONS = ["as drawn", "cropped", "scaled to 20 px", "centred in 28 × 28"]
PIXELATED = (2, 3)  # the steps sent at their own size, 20 and 28 px
WAS_I_RIGHT, MODEL_SEES, CLOSEST = "Was I right?", "What the model sees", "The closest MNIST training images"


@dataclass(frozen=True)
class Reading:
    """All the page shows of one drawing (or photo) with one live model, worked out once."""

    key: tuple                  # (the drawing's hash or the photo's id, the live model's id)
    problem: str | None = None  # why it cannot be read; else None
    centred: object = None      # (28, 28) float32 in [0, 1]: what the model reads; None when blank
    raw_size: tuple = ()        # the drawing's size as sent, for the lab's record
    verdict: DrawingVerdict | None = None
    answer: Answer | None = None  # the model's own figures, when the verdict is a digit
    drawing_id: str = ""        # feedback.fingerprint(centred)
    steps: tuple = ()           # PNG data URLs of the four preprocessing steps (with pictures_later:
                                # the steps themselves, at most 140 px a side, to make them from)
    nearest: tuple = ()         # (index, label) of the three nearest training images
    pictures_later: bool = False  # the steps and nearest images were left out while the server was busy


def save(label: int | None, drawing_id: str, image, raw_size, answer: Answer, model: str, probabilities) -> None:
    """Store the drawing with the visitor's label, once (a button's or the digit picker's callback).

    `probabilities`: the live model's ten (calibrated, as the page shows them), which decide
    whether the label is held for review (mnistcore.lab.review)."""
    if label is None or drawing_id in st.session_state.setdefault("saved", {}):
        return
    problem = drawing_budget_problem()  # counted per save: an undo does not give it back
    if problem is not None:
        st.session_state.save_error = (drawing_id, problem)
        return
    try:
        row_id = feedback_store().add(image, label=label, predicted=answer.digit, confidence=answer.probability,
                                      model=model, raw_size=raw_size, visitor=feedback_key(),
                                      probabilities=probabilities)
    except (FeedbackError, OSError) as err:
        st.session_state.save_error = (drawing_id, f"Your answer could not be saved: {public(err)}")
        return
    too = " too" if label == answer.digit else ""
    message = f"Saved: you said {label}; the model said {answer.digit}{too}. Thank you!"
    if review.should_hold(label, probabilities):  # what add() decided: this label is held for review
        message += f" The model is very sure it is a {answer.digit}: the lab will check your answer before it is used."
    st.session_state.saved[drawing_id] = message
    st.session_state.setdefault("saved_rows", {})[drawing_id] = row_id  # for Undo: this visit only


def undo_saved(drawing_id: str) -> None:
    """Take back the label just saved for this drawing (the Undo button's callback)."""
    row_id = st.session_state.get("saved_rows", {}).pop(drawing_id, None)
    if row_id is None:
        return
    try:
        feedback_store().undo(row_id, feedback_key())
    except UndoRefused as err:  # too late, or gone already: the label stays as saved
        log.info("draw: undo of drawing %s refused: %s", row_id, err)
        st.session_state.save_error = (drawing_id, "Too late to undo: a label can be taken back for "
                                                   f"{feedback.UNDO_SECONDS // 60} minutes after it is saved.")
        return
    except (FeedbackError, OSError) as err:
        st.session_state.saved_rows[drawing_id] = row_id  # it can be tried again
        st.session_state.save_error = (drawing_id, f"Your answer could not be undone: {public(err)}")
        return
    del st.session_state.saved[drawing_id]
    st.session_state.pop(f"right-digit-{drawing_id}", None)  # the digit picker starts empty again


def save_picked(key: str, *args) -> None:
    save(st.session_state.get(key), *args)


def drawing_key() -> tuple[str, object] | None:
    """(a name for the drawing, what the canvas sent), None while nothing is drawn. The name is the
    picture's hash, so that nothing is worked out twice for one drawing."""
    try:
        data_url = data_url_from(st.session_state.get(CANVAS))
    except ValueError as err:  # not the canvas' kind of value at all
        return f"refused:{err}", err
    if data_url is None:
        return None
    text = data_url if isinstance(data_url, str) else repr(data_url)  # read_canvas_png says what is wrong
    return "drawing:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest(), data_url


def read_drawing(data_url):
    """The drawing's preprocessing steps, None when the canvas is blank, or why it cannot be read."""
    try:
        if isinstance(data_url, ValueError):
            raise data_url
        return ink_steps(read_canvas_png(data_url, SIDE, SIDE))
    except ValueError as err:  # DrawingError, or a picture preprocessing cannot use
        log.warning("draw: refused a drawing: %s", err)
        return f"This drawing cannot be read: {err}. Clear it and try again."


def read_paper(picture):
    """The photo's preprocessing steps, or why it cannot be read (finding the ink takes ~0.1 s)."""
    try:
        steps = photo_steps(read_photo(picture.getvalue()))
    except ValueError as err:  # PhotoError, or a picture preprocessing cannot use
        log.warning("draw: refused a photo: %s", err)
        return f"This picture cannot be read: {err}. Try another one."
    if steps is None:
        return "No digit found in this picture: write it large with a dark pen, with paper all round it."
    return steps


def reading_now(on_paper: bool, live: Live) -> Reading | None:
    """The Reading of what the visitor drew (or photographed) last, None while there is nothing:
    kept in the session, and worked out again only for a new drawing or a new live model."""
    if on_paper:
        picture = st.session_state.get(CAMERA) or st.session_state.get(UPLOAD)
        source = None if picture is None else ("photo:" + picture.file_id, picture)
    else:
        source = drawing_key()
    if source is None:
        return None
    key = (source[0], live.id)
    known = st.session_state.get("reading")
    if known is not None and known.key == key:
        if known.pictures_later and (not READS.busy() or st.session_state.get(SHOW_PICTURES)):
            known = st.session_state.reading = with_pictures(known)
        return known
    steps = read_paper(source[1]) if on_paper else read_drawing(source[1])
    if isinstance(steps, str):
        known = Reading(key, problem=steps)
    elif steps is None:  # a blank canvas (Clear sends one)
        known = Reading(key)
    else:
        known = understand(key, steps, on_paper, live, pictures=not READS.busy())
        st.session_state[LAST_DIGIT] = known.centred
    st.session_state.reading = known
    return known


def understand(key: tuple, steps, on_paper: bool, live: Live, pictures: bool = True) -> Reading:
    """The model's answer, the verdict, the pictures and the nearest images of one drawing (the
    last two only with `pictures`: see READS)."""
    probabilities = live.model.predict_proba(steps.centred)[0]
    # The MNIST look-alike check is tuned to the canvas' pen: photos get the shape checks only.
    verdict = judge_drawing(steps, probabilities, reference=None if on_paper else digit_reference(),
                    temperature=temperature_for(live.info))
    answer = read_answer(probabilities) if verdict.kind == "digit" else None
    # Kept small while the pictures wait: a phone's drawing arrives at up to 4 times the canvas' size.
    reading = Reading(key, centred=steps.centred, raw_size=steps.ink.shape, verdict=verdict, answer=answer,
                      drawing_id=fingerprint(steps.centred), pictures_later=answer is not None,
                      steps=(shrink(steps.ink, 140), shrink(steps.cropped, 140), steps.scaled, steps.centred))
    return with_pictures(reading) if pictures else reading



def with_pictures(reading: Reading) -> Reading:
    """The Reading with its steps as pictures and its nearest training images (a quarter of what a
    drawing costs the server). Until then `steps` holds the steps as arrays."""
    if not reading.pictures_later:
        return reading
    ink, cropped, scaled, centred = reading.steps
    # The drawing and its crop shrunk to the size shown; the two small steps as they are (the
    # browser enlarges them with square pixels: see PIXELATED).
    pictures = (*(picture_url(square(step, 140), side=140) for step in (ink, cropped)),
                *(picture_url(square(step, max(step.shape))) for step in (scaled, centred)))
    return replace(reading, steps=pictures, nearest=nearest_training_images(centred, k=3), pictures_later=False)


@st.fragment
def drawing_and_answer(on_paper: bool) -> None:
    """Everything that depends on the drawing: a stroke, a photo or a click in here reruns only this."""
    live = store().live() or require_live_model()  # the live model now: someone may have published since
    with READS:
        reading = reading_now(on_paper, live)
    left, right = st.columns([1, 1], gap="large")
    with left, st.container(height=ANSWER_HEIGHT, border=False):
        # A fixed height: the canvas below must not move between strokes (a 4 is drawn in two).
        if reading is not None and reading.problem:
            st.error(reading.problem)
        elif reading is None or reading.verdict is None:
            st.info(PAPER_HINT if on_paper else HINT, icon=":material/photo_camera:" if on_paper else ":material/draw:")
        elif reading.answer is None:  # too small, a dot, a line, a blob, two digits, not a digit
            st.info(reading.verdict.message, icon=":material/draw:")
        else:
            verdict = reading.verdict
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
    if reading is None or reading.answer is None:
        return
    with right:
        was_i_right(reading, live)
    what_the_model_sees(reading)


def was_i_right(reading: Reading, live: Live) -> None:
    st.html(chance_bars(reading.verdict.probabilities) + section(WAS_I_RIGHT))
    answer, drawing_id = reading.answer, reading.drawing_id  # a new stroke makes a new drawing, saved or not
    details = (drawing_id, reading.centred, reading.raw_size, answer, f"{live.name}: {live.info.summary()}",
               reading.verdict.probabilities)
    if drawing_id in st.session_state.get("saved", {}):
        st.success(st.session_state.saved[drawing_id], icon=":material/check_circle:")
        if drawing_id in st.session_state.get("saved_rows", {}):
            st.button("Undo", key=f"undo-{drawing_id}", icon=":material/undo:", on_click=undo_saved,
                      args=(drawing_id,), help="A mis-tap? Take your answer back and choose again.")
    else:
        st.button(f"Yes, it's a {answer.digit}", key="confirm", type="primary", icon=":material/check:",
                  on_click=save, args=(answer.digit, *details))
        picker = f"right-digit-{drawing_id}"
        # Pills wrap onto a second line on a narrow screen (ui.chrome.PAGE_STYLE): every digit stays on screen.
        st.pills("No, it's a …", list(range(10)), key=picker, on_change=save_picked, args=(picker, *details))
        st.caption("Your drawing and your answer are kept for the lab (nothing else: no name), to see how well "
                   "the model reads our own handwriting, and to train on it.")
    failed_id, problem = st.session_state.get("save_error", (None, None))
    if failed_id == drawing_id:  # shown with the drawing it is about
        st.error(problem)


def what_the_model_sees(reading: Reading) -> None:
    if reading.pictures_later:  # the server was busy: the answer first, the pictures on request
        st.html(section(MODEL_SEES))
        st.info("Many people are drawing right now, so the server answered first. The pictures of how your "
                "drawing became 28 × 28, and the closest MNIST images, come with your next stroke, or now:",
                icon=":material/hourglass_top:")
        st.button("Show them", key=SHOW_PICTURES, icon=":material/image:")
        return
    st.html(section(MODEL_SEES, "Your drawing is turned into an MNIST-style image the way MNIST itself was made: "
                                "cropped to the ink, scaled so the longer side is 20 pixels, then centred in 28 × 28.")
            + figures(reading.steps, STEP_CAPTIONS, pixelated=PIXELATED))

    # The expander runs its content only while open (on_change="rerun" makes `.open` known): asking
    # the saved Keras models imports TensorFlow, which nobody should wait for unasked.
    box = st.expander("Compare every saved model", key="compare", on_change="rerun", icon=":material/compare_arrows:")
    with box:
        if box.open:
            compare_models(reading)

    closest = section(CLOSEST, "The three of the 60,000 training digits that are most like your drawing, "
                               "pixel by pixel.")
    if not reading.nearest:  # without MNIST: say why, as the Gallery does
        st.html(closest)
        nearest_images()
        return
    st.html(closest + figures([training_picture(i) for i, _ in reading.nearest],
                              [f"a {label} (no. {i:,})" for i, label in reading.nearest]))


def compare_models(reading: Reading) -> None:
    import pandas as pd  # only here: the rest of the page has no table

    runs = store().runs()
    with st.spinner(f"Asking {len(runs)} saved models… (the first Keras model takes a few seconds to load)"):
        verdicts = compare.compare(reading.centred, runs, saved_model)
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


open_page("Draw a digit")
require_live_model()
warm_up()
on_paper = st.segmented_control("Read a digit", list(SOURCES), default="draw", format_func=SOURCES.get,
                                key="source", label_visibility="collapsed") == "paper"
fix_toolbars()
drawing_and_answer(on_paper)
