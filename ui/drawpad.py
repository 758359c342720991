"""The drawing pad: streamlit-drawable-canvas, made to take every stroke, on touch as with a mouse.

The canvas component (0.13) keeps its toolbar (Undo, Redo, Edit, Reset) invisible until the
canvas is hovered, and while invisible it still lies over a strip along the canvas' top and takes
the pointer there. A touch screen never hovers, so on a phone a stroke started there was lost;
and pressing its hidden Edit toggle switched drawing off altogether. None of its options changes
that (`display_toolbar` went in 0.11), so `draw_pad` mounts a tiny companion component of ours
that adds a style sheet to the canvas' own (open) shadow root: the toolbar always shown, above the
canvas instead of over it, with two large labelled buttons, Undo and Clear, and without Edit.

Clear is the canvas' own reset: it empties the canvas in the browser at once, so a stroke started
right after it is kept (a Streamlit button reruns the page and mounts a new canvas, and the old one
swallowed strokes until then). Tested in a real Chromium on a phone-sized touch screen
(tests/test_draw_touch.py): if a new version of the canvas renames its classes, that test fails.
"""
from __future__ import annotations

import streamlit as st
from streamlit_drawable_canvas import st_canvas  # only importable inside a Streamlit run

SIDE = 280           # the canvas' width and height, in CSS pixels: fits a 390-px phone with margins
PEN = 22             # the pen's width on the canvas, in CSS pixels

# Inside the canvas' shadow root. Labels come from the buttons' own aria-labels.
CANVAS_STYLE = """
.dc-toolbar { opacity: 1 !important; top: -3.25rem !important; right: 0 !important; left: auto !important;
              padding: 0 !important; transition: none !important; }
.dc-toolbar-card { box-shadow: none !important; background: transparent !important; padding: 0 !important;
                   gap: .5rem; }
.dc-icon-button { min-height: 2.6rem !important; padding: .4rem .8rem !important; font: 500 .95rem/1 sans-serif;
                  border: 1px solid rgba(49, 51, 63, .25) !important; background: #fff !important;
                  color: rgb(49, 51, 63) !important; touch-action: manipulation; }
.dc-icon-button svg { width: 1.1rem !important; height: 1.1rem !important; }
.dc-icon-button[aria-label="Undo"]::after { content: "Undo"; margin-left: .4rem; }
.dc-icon-button[aria-label="Reset canvas & history"]::after { content: "Clear"; margin-left: .4rem; }
.dc-icon-button[aria-label="Edit"], .dc-icon-button[aria-label="Redo"],
.dc-icon-button[aria-label^="Update the app"], .dc-toolbar-separator, .dc-toolbar-contextual {
    display: none !important; }
"""

# Finds every shadow root holding a canvas (now and whenever the page changes) and adds the style
# once. Runs in the page itself: Streamlit's v2 components are not sandboxed.
FIX_JS = """
export default function ({ data }) {
  const apply = () => {
    for (const element of document.querySelectorAll("*")) {
      const root = element.shadowRoot;
      if (root && root.querySelector(".dc-root") && !root.querySelector("style[data-mnistlab]")) {
        const style = document.createElement("style");
        style.dataset.mnistlab = "canvas";
        style.textContent = data.css;
        root.appendChild(style);
      }
    }
  };
  let queued = false;
  const observer = new MutationObserver(() => {
    if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; apply(); }); }
  });
  observer.observe(document.body, { childList: true, subtree: true });
  apply();
  return () => observer.disconnect();
}
"""

_canvas_fix = st.components.v2.component("mnistlab.canvas_fix", js=FIX_JS)


def draw_pad(key: str) -> None:
    """The canvas (white pen on black, SIDE x SIDE) with visible Undo and Clear above it.

    What was drawn arrives in st.session_state[key] (read it with mnistcore.canvas); the picture
    is sent after every stroke, Undo and Clear.
    """
    st.space(56)  # room for the toolbar, which sits just above the canvas
    st_canvas(fill_color="#FFFFFF", stroke_width=PEN, stroke_color="#FFFFFF", background_color="#000000",
              height=SIDE, width=SIDE, drawing_mode="freedraw", key=key, return_image_data=True)
    _canvas_fix(key="canvas_fix", data={"css": CANVAS_STYLE}, height=0)
