"""The drawing pad: streamlit-drawable-canvas, made to take every stroke, on touch as with a mouse;
and the camera and upload buttons for a digit on paper.

The canvas component (0.13) keeps its toolbar (Undo, Redo, Edit, Reset) invisible until the
canvas is hovered, and while invisible it still lies over a strip along the canvas' top and takes
the pointer there. A touch screen never hovers, so on a phone a stroke started there was lost;
and pressing its hidden Edit toggle switched drawing off altogether. None of its options changes
that, so `fix_toolbars` mounts a tiny companion component of ours (assets/canvas_fix.js) that adds
a style sheet (assets/canvas_toolbar.css) to the canvas' own (open) shadow root: the toolbar always
shown, above the canvas instead of over it, with two large labelled buttons, Undo and Clear, and
without Edit.

Clear is the canvas' own reset: it empties the canvas in the browser at once, so a stroke started
right after it is kept (a Streamlit button reruns the page and mounts a new canvas, which would
swallow strokes until then). Tested in a real Chromium on a phone-sized touch screen
(tests/test_draw_touch.py): if a new version of the canvas renames its classes, that test fails.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit_drawable_canvas import st_canvas  # only importable inside a Streamlit run

from mnistcore.explain.reading import Reading, canvas_source, photo_source  # noqa: F401 - what the pads sent
from mnistcore.photo import MAX_BYTES
from ui.text import N_, _
from ui.uploads import uploader_shown

SIDE = 280           # the canvas' width and height, in CSS pixels: fits a 390-px phone with margins
PEN = 22             # the pen's width on the canvas, in CSS pixels
ASSETS = Path(__file__).parent / "assets"
TOOLBAR_STYLE = (ASSETS / "canvas_toolbar.css").read_text(encoding="utf-8")
_canvas_fix = st.components.v2.component("mnistlab.canvas_fix",
                                         js=(ASSETS / "canvas_fix.js").read_text(encoding="utf-8"))
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp"]
# The canvas' own names for its two buttons, and ours: what the button shows is what it is called.
BUTTON_NAMES = {"Undo": N_("Undo stroke"), "Reset canvas & history": N_("Clear")}


def draw_pad(key: str) -> None:
    """The canvas (white pen on black, SIDE x SIDE) with visible Undo and Clear above it, once the
    page has called `fix_toolbars` (outside the fragment the canvas is in).

    What was drawn arrives in st.session_state[key] (read it with mnistcore.explain.reading); the
    picture is sent after every stroke, Undo and Clear.
    """
    st.space(56)  # room for the toolbar, which sits just above the canvas
    st_canvas(fill_color="#FFFFFF", stroke_width=PEN, stroke_color="#FFFFFF", background_color="#000000",
              height=SIDE, width=SIDE, drawing_mode="freedraw", key=key, return_image_data=True)


def fix_toolbars() -> None:
    """Mount the toolbar fix for every canvas on the page, now and later. Call it once per page run,
    outside any fragment: it watches the page for canvases itself, so a stroke's rerun (of the
    fragment holding the canvas) need not send it again."""
    names = {own: _(name) for own, name in BUTTON_NAMES.items()}
    _canvas_fix(key="canvas_fix", data={"css": TOOLBAR_STYLE, "names": names}, height=0)


def photo_pad(camera_key: str, upload_key: str) -> None:
    """The camera and the upload button for a digit on paper: the photo arrives in
    st.session_state[camera_key] or st.session_state[upload_key]."""
    uploader_shown()  # else the server takes no upload from this page (ui/uploads.py)
    st.camera_input(_("Take a photo of a digit on paper"), key=camera_key)
    st.file_uploader(_("…or upload a picture (on a phone: your camera app)"), type=PHOTO_TYPES, key=upload_key,
                     max_upload_size=MAX_BYTES // 2**20)
