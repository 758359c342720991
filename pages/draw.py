"""Draw: a digit drawn with mouse or finger (or photographed on paper), what the live model reads,
and what it saw. After each answer the visitor can say whether it was right (ui.labels).

Light on the server, since a crowd draws at once: a new stroke reruns only the fragment below (no
title, banner or menu), and everything worked out from one drawing is worked out once
(mnistcore.explain.reading) and kept in the visitor's session, so a click on "Yes" or on a pill
costs nothing again.
"""
import logging

import streamlit as st

from ui import labels
from ui.chrome import open_page, require_live_model, use
from ui.drawpad import SIDE, Reading, canvas_source, draw_pad, fix_toolbars, photo_pad, photo_source
from ui.figures import chance_bars, figures, section, training_picture
from ui.resources import (
    READS,
    RULE,
    TEACH_PROBLEM,
    answer_of,
    drawing_reader,
    my_model,
    nearest_images,
    saved_models_answers,
    store,
    taught_live,
    teach_it,
    teaching_of,
    untaught,
    warm_up,
)
from ui.text import N_, _, choose, number, percent

SOURCES = {"draw": (":material/draw:", N_("Draw")), "paper": (":material/photo_camera:", N_("Digit on paper"))}
CAMERA, UPLOAD = "camera", "upload"
CANVAS = "canvas"  # the canvas' key: tests hand it a drawing through st.session_state["canvas"]
LAST_DIGIT = "last_digit"  # the visitor's last drawing as the model sees it, for the Look inside page
SHOW_PICTURES = "show_pictures"  # the button that asks for the pictures a busy server left out
ANSWER_HEIGHT = 110  # pixels above the canvas for the answer, the hint or a problem
HINT = N_("Draw a digit (0 to 9) in the black box, as large as the box allows.")
PAPER_HINT = N_("Write a digit on paper with a dark pen, large, then take a photo of it or upload one.")
STEP_CAPTIONS = [N_("as drawn"), N_("cropped"), N_("scaled to 20 px"), N_("centred in 28 × 28")]
PIXELATED = (2, 3)  # the steps sent at their own size, 20 and 28 px
WAS_I_RIGHT, MODEL_SEES = N_("Was I right?"), N_("What the model sees")
CLOSEST = N_("The closest MNIST training images")
WHOSE = {"mine": (":material/person:", N_("Your model")), "live": (":material/groups:", N_("The live model"))}
log = logging.getLogger("mnistlab")


def shown(options: dict):
    """A control's format_func: an option's icon and its words in the visitor's language."""
    shown = {key: f"{icon} {_(words)}" for key, (icon, words) in options.items()}  # translated now, in this run
    return shown.get


def answering_model(token: str, live):
    """Whose model reads the drawing: the visitor's own (their newest on the class board) unless
    they pick the live one; the live one for visitors who have trained none. Returns (model, other)."""
    mine = my_model(token)
    if mine is None:
        return live, None
    whose = choose(st.segmented_control, _("Whose model answers"), WHOSE, default="mine",
                   format_func=shown(WHOSE), key="whose",
                   help=_("Your model is the one you trained on the Train page; the live model is "
                          "the one everybody's pages use."))
    return (live, mine) if whose == "live" else (mine, live)


def reading_now(on_paper: bool, live) -> Reading | None:
    """The Reading of what the visitor drew (or photographed) last, None while there is nothing:
    kept in the session, and worked out again only for a new drawing or a new live model."""
    if on_paper:
        picture = st.session_state.get(CAMERA) or st.session_state.get(UPLOAD)
        source = None if picture is None else photo_source(picture.file_id, picture.getvalue())
    else:
        source = canvas_source(st.session_state.get(CANVAS), SIDE)
    if source is None:
        return None
    known = st.session_state.get("reading")
    # A busy server answers first: the pictures come with the next stroke, or when asked for.
    pictures = not READS.busy() or st.session_state.get(SHOW_PICTURES, False)
    reading = st.session_state.reading = drawing_reader(live).read(source, known, pictures=pictures)
    if reading.centred is not None and (known is None or known.key != reading.key):
        st.session_state[LAST_DIGIT] = reading.centred
    return reading


@st.fragment
def drawing_and_answer(on_paper: bool, token: str) -> None:
    """Everything that depends on the drawing: a stroke, a photo or a click in here reruns only this."""
    use()  # a fragment's rerun runs only this function: its words need the visitor's language too
    live = store().live() or require_live_model()  # the live model now: someone may have published since
    base, other = answering_model(token, live)
    live = taught_live(base)  # the visitor's own taught copy, when they have taught this model
    with READS:
        reading = reading_now(on_paper, live)
    left, right = st.columns([1, 1], gap="large")
    with left, st.container(height=ANSWER_HEIGHT, border=False):
        # A fixed height: the canvas below must not move between strokes (a 4 is drawn in two).
        if reading is not None and reading.problem:
            st.error(reading.problem)
        elif reading is None or reading.verdict is None:
            st.info(_(PAPER_HINT if on_paper else HINT),
                    icon=":material/photo_camera:" if on_paper else ":material/draw:")
        elif reading.answer is None:  # too small, a dot, a line, a blob, two digits, not a digit
            st.info(reading.verdict.explanation, icon=":material/draw:")
        else:
            verdict = reading.verdict
            st.header(verdict.headline, anchor=False)
            if verdict.guessing:
                st.warning(_("The model is {words} ({chance} for {digit}).").format(
                    words=verdict.said, chance=verdict.chance, digit=verdict.digit))
            else:
                said = verdict.said
                st.caption(_("{words} ({chance}).").format(words=said[:1].upper() + said[1:], chance=verdict.chance))
    with left:
        if on_paper:
            photo_pad(CAMERA, UPLOAD)
        else:
            try:
                draw_pad(CANVAS)
            except Exception:  # noqa: BLE001 - what the browser sent broke the component: say so, log the rest
                log.warning("draw: the canvas component failed on what a browser sent", exc_info=True)
                st.error(_("This drawing cannot be read. Clear it and try again."))
    if reading is None or reading.answer is None:
        with right:  # an answer saved for the drawing before stays in view (after Undo stroke or Clear)
            labels.earlier_answer()
        return
    with right:
        if other is not None:
            digit, chance = answer_of(other, reading.centred)
            mine = other.name.startswith("class:")
            answers = (_("The live model answers. Your model says **{digit}** ({chance}).") if mine
                       else _("Your model answers. The live model says **{digit}** ({chance})."))
            st.caption(answers.format(digit=digit, chance=percent(chance)))
        st.html(chance_bars(reading.verdict.probabilities) + section(_(WAS_I_RIGHT)))
        labels.ask(reading, live)
        teach_box(reading, base, live)
    what_the_model_sees(reading)


def teach_box(reading: Reading, base, live) -> None:
    """Teach it: a few learning steps on this drawing, on the visitor's own copy of the model."""
    before = teaching_of(live)
    with st.expander(_("Wrong? Teach it"), icon=":material/school:", expanded=before is not None):
        if before is not None:
            st.caption(_("Before teaching it said **{before}** ({before_chance}); now **{now}** ({now_chance}). "
                         "Each step: {rule}, for this drawing and a few MNIST digits. Only your copy learned: "
                         "everybody else's answers are as they were.").format(
                before=before[0], before_chance=percent(before[1]), now=reading.answer.digit,
                now_chance=percent(reading.answer.probability), rule=_(RULE)))
        if TEACH_PROBLEM in st.session_state:
            st.warning(_(st.session_state.pop(TEACH_PROBLEM)))
        digit = st.segmented_control(_("It is a"), list(range(10)), key="teach_digit")
        # Callbacks: they run before the rerun the click starts, which then reads with the new copy.
        st.button(_("Teach it"), key="teach", icon=":material/school:", disabled=digit is None, on_click=teach_it,
                  args=(base, reading.centred, digit))
        if before is not None:
            st.button(_("Undo teaching"), key="untaught", icon=":material/undo:", on_click=untaught, args=(base,))


def what_the_model_sees(reading: Reading) -> None:
    if reading.pictures_later:  # the server was busy: the answer first, the pictures on request
        st.html(section(_(MODEL_SEES)))
        st.info(_("Many people are drawing right now, so the server answered first. The pictures of how your "
                  "drawing became 28 × 28, and the closest MNIST images, come with your next stroke, or now:"),
                icon=":material/hourglass_top:")
        st.button(_("Show them"), key=SHOW_PICTURES, icon=":material/image:")
        return
    read = reading.answer.digit
    st.html(section(_(MODEL_SEES), _("Your drawing is turned into an MNIST-style image the way MNIST itself was "
                                     "made: cropped to the ink, scaled so the longer side is 20 pixels, then "
                                     "centred in 28 × 28."))
            + figures(reading.pictures, [_(c) for c in STEP_CAPTIONS], pixelated=PIXELATED,
                      alts=[_("Your drawing, {step}: the model read a {digit}").format(step=_(c), digit=read)
                            for c in STEP_CAPTIONS]))

    # The expander runs its content only while open (on_change="rerun" makes `.open` known): asking
    # the saved Keras models imports TensorFlow, which nobody should wait for unasked.
    box = st.expander(_("Compare every saved model"), key="compare", on_change="rerun",
                      icon=":material/compare_arrows:")
    with box:
        if box.open:
            compare_models(reading)

    closest = section(_(CLOSEST), _("The three of the {count} training digits that are most like your "
                                    "drawing, pixel by pixel.").format(count=number(60_000)))
    if not reading.nearest:  # without MNIST: say why, as the Gallery does
        st.html(closest)
        nearest_images()
        return
    st.html(closest + figures([training_picture(i) for i, _ in reading.nearest],
                              [_("a {digit} (no. {index})").format(digit=label, index=number(i))
                               for i, label in reading.nearest],
                              alts=[_("MNIST training image no. {index}: a {digit}, close to your drawing").format(
                                  digit=label, index=number(i)) for i, label in reading.nearest]))


def compare_models(reading: Reading) -> None:
    import pandas as pd  # only here: the rest of the page has no table

    table = saved_models_answers(reading.centred)
    st.caption(_("Every model saved on this server (published on the Train page, plus the shipped default) "
                 "reads the same 28 × 28 image."))
    st.dataframe(pd.DataFrame(table), hide_index=True, column_config={
        "model": st.column_config.TextColumn(_("Model")),
        "test accuracy": st.column_config.NumberColumn(_("Test acc."), format="percent", width="small"),
        "trained": st.column_config.TextColumn(_("Trained (UTC)")),
        "answer": st.column_config.TextColumn(_("Answer"), width="small"),
        "probability": st.column_config.ProgressColumn(_("Sure"), min_value=0.0, max_value=1.0, format="percent",
                                                      width="small"),
        "0 to 9": st.column_config.BarChartColumn(_("Probabilities, 0 to 9"), y_min=0.0, y_max=1.0),
    })


me = open_page(N_("Draw a digit"))
require_live_model()
warm_up()
on_paper = choose(st.segmented_control, _("Read a digit"), SOURCES, default="draw", format_func=shown(SOURCES),
                  key="source", label_visibility="collapsed") == "paper"
fix_toolbars()
drawing_and_answer(on_paper, me.id)
