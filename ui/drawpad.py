"""The drawing pad: streamlit-drawable-canvas, made to take every stroke, on touch as with a mouse.

The canvas component (0.13) keeps its toolbar (Undo, Redo, Edit, Reset) invisible until the
canvas is hovered, and while invisible it still lies over a strip along the canvas' top and takes
the pointer there. A touch screen never hovers, so on a phone a stroke started there was lost;
and pressing its hidden Edit toggle switched drawing off altogether. None of its options changes
that (`display_toolbar` went in 0.11), so `fix_toolbars` mounts a tiny companion component of ours
that adds a style sheet to the canvas' own (open) shadow root: the toolbar always shown, above the
canvas instead of over it, with two large labelled buttons, Undo and Clear, and without Edit.

Clear is the canvas' own reset: it empties the canvas in the browser at once, so a stroke started
right after it is kept (a Streamlit button reruns the page and mounts a new canvas, and the old one
swallowed strokes until then). Tested in a real Chromium on a phone-sized touch screen
(tests/test_draw_touch.py): if a new version of the canvas renames its classes, that test fails.
"""
from __future__ import annotations

import base64
import functools
import html
import io

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas  # only importable inside a Streamlit run

from mnistcore.explain.pictures import enlarge
from mnistcore.lab import services

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
# once. Runs in the page itself: Streamlit's v2 components are not sandboxed. A canvas gets its
# shadow root, and draws itself in it, a moment after its element is added to the page, and
# changes inside a shadow root are not seen by an observer of the page's body: so each shadow root
# is watched too, and after each change the page is looked at again a few times.
FIX_JS = """
export default function ({ data }) {
  const watched = new WeakSet();
  let queued = false, stopped = false;
  const apply = () => {
    for (const element of document.querySelectorAll("*")) {
      const root = element.shadowRoot;
      if (root && !watched.has(root)) {
        watched.add(root);
        observer.observe(root, { childList: true, subtree: true });
      }
      if (root && root.querySelector(".dc-root") && !root.querySelector("style[data-mnistlab]")) {
        const style = document.createElement("style");
        style.dataset.mnistlab = "canvas";
        style.textContent = data.css;
        root.appendChild(style);
      }
    }
  };
  const soon = () => {
    if (!queued && !stopped) { queued = true; requestAnimationFrame(() => { queued = false; apply(); }); }
  };
  const observer = new MutationObserver(() => { soon(); for (const ms of [100, 500, 2000]) setTimeout(soon, ms); });
  observer.observe(document.body, { childList: true, subtree: true });
  apply();
  for (const ms of [100, 500, 2000]) setTimeout(soon, ms);
  return () => { stopped = true; observer.disconnect(); };
}
"""

_canvas_fix = st.components.v2.component("mnistlab.canvas_fix", js=FIX_JS)


def draw_pad(key: str) -> None:
    """The canvas (white pen on black, SIDE x SIDE) with visible Undo and Clear above it, once the
    page has called `fix_toolbars` (outside the fragment the canvas is in).

    What was drawn arrives in st.session_state[key] (read it with mnistcore.canvas); the picture
    is sent after every stroke, Undo and Clear.
    """
    st.space(56)  # room for the toolbar, which sits just above the canvas
    st_canvas(fill_color="#FFFFFF", stroke_width=PEN, stroke_color="#FFFFFF", background_color="#000000",
              height=SIDE, width=SIDE, drawing_mode="freedraw", key=key, return_image_data=True)


def fix_toolbars() -> None:
    """Mount the toolbar fix (FIX_JS) for every canvas on the page, now and later. Call it once per
    page run, outside any fragment: it watches the page for canvases itself, so a stroke's rerun
    (of the fragment holding the canvas) need not send it again."""
    _canvas_fix(key="canvas_fix", data={"css": CANVAS_STYLE}, height=0)


def picture_url(image: np.ndarray, side: int | None = None) -> str:
    """A grey image (uint8, or floats in [0, 1]) as a PNG data URL, for st.image; with `side`,
    shrunk to fit `side` px (a phone's canvas arrives at 2-3 times its size on screen).

    st.image passes a data URL through as it is, where an array is encoded again and filed with
    Streamlit's media store on every rerun: encode a drawing's pictures once, keep the URLs."""
    picture = np.asarray(image)
    if picture.dtype != np.uint8:
        picture = (np.clip(picture, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    image = Image.fromarray(picture)
    if side is not None and max(image.size) > side:
        image.thumbnail((side, side), Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # a few KB either way; level 1 is 3-4 times faster
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@functools.lru_cache(maxsize=4096)  # ~1 KB each; thread-safe; nothing a client sends can clear it
def training_picture(index: int, side: int = 140) -> str:
    """MNIST training image `index`, enlarged to `side` px, as a PNG data URL: made once for all
    visitors (drawings of the same digit often share their nearest images)."""
    (x_train, _), _ = services.mnist()
    return picture_url(enlarge(x_train[index], side))


# A heading and pictures in one st.html element each, not a subheader, a caption and an st.image:
# every element of the Draw page is a message sent and a step of the server's rerun, per stroke.
HEADING_STYLE = "margin:1rem 0 .25rem;padding:0;font-size:1.5rem;font-weight:600;line-height:1.2"
NOTE_STYLE = "margin:0 0 .75rem;font-size:.875rem;color:rgba(49,51,63,.6)"


def section(title: str, note: str = "") -> str:
    """HTML for a heading (as st.subheader draws one) and a grey note under it (as st.caption)."""
    out = f'<h3 style="{HEADING_STYLE}">{html.escape(title)}</h3>'
    return out + (f'<p style="{NOTE_STYLE}">{html.escape(note)}</p>' if note else "")


def figures(pictures, captions, width: int = 140, pixelated=()) -> str:
    """HTML for pictures (data URLs) in a row that wraps on a phone, each `width` px wide with its
    caption under it. Those whose index is in `pixelated` are small images (a 28 x 28 digit) drawn
    with square pixels by the browser, rather than enlarged and encoded by the server."""
    items = "".join(
        f'<figure style="margin:0;width:{width}px">'
        f'<img src="{url}" alt="{html.escape(caption)}" width="{width}" height="{width}" '
        f'style="display:block;width:{width}px;height:{width}px'
        f'{";image-rendering:pixelated" if i in pixelated else ""}">'
        f'<figcaption style="{NOTE_STYLE};margin:.25rem 0 0;text-align:center">{html.escape(caption)}</figcaption>'
        f'</figure>'
        for i, (url, caption) in enumerate(zip(pictures, captions)))
    return f'<div style="display:flex;flex-wrap:wrap;gap:.75rem;margin-bottom:.5rem">{items}</div>'


# Ten bars in plain HTML: a Vega-Lite chart cost ~30 ms of server time per rerun (Altair builds
# and validates its spec) and a chart library on the phone, for ten numbers with no axis to read.
BARS_STYLE = ("display:flex;align-items:flex-end;gap:6px;height:{height}px;margin:.25rem 0 .5rem;"
              "font:500 .85rem/1 sans-serif;color:rgb(49,51,63)")


def chance_bars(probabilities, height: int = 150) -> str:
    """HTML for ten bars, digit 0 to 9, as tall as the model's (calibrated) probability for each;
    the digit read in the theme's red, the others grey. For st.html."""
    values = [float(p) for p in probabilities]
    top = int(np.argmax(values)) if values else -1
    label = ", ".join(f"{d}: about {min(round(100 * p), 99)}%" for d, p in enumerate(values) if p >= 0.01)
    bars = "".join(
        f'<div style="flex:1;display:flex;flex-direction:column;align-items:center;gap:4px;height:100%">'
        f'<div style="flex:1;width:100%;display:flex;align-items:flex-end">'
        f'<div style="width:100%;height:{max(p * 100, 1):.1f}%;border-radius:3px 3px 0 0;'
        f'background:{"#ff4b4b" if d == top else "#a3a8b8"}"></div></div><span>{d}</span></div>'
        for d, p in enumerate(values))
    label = html.escape("The model's chances: " + label)
    return f'<div role="img" aria-label="{label}" style="{BARS_STYLE.format(height=height)}">{bars}</div>'
