"""Pictures, headings and bars as plain HTML, for st.html: the Draw page's answer and what it saw.

A heading and pictures in one st.html element each, not a subheader, a caption and an st.image:
every element of the Draw page is a message sent and a step of the server's rerun, per stroke.
"""
from __future__ import annotations

import functools
import html

import numpy as np

from mnistcore.explain.pictures import enlarge, png_data_url
from mnistcore.lab import services
from ui.text import _, percent

HEADING_STYLE = "margin:1rem 0 .25rem;padding:0;font-size:1.5rem;font-weight:600;line-height:1.2"
NOTE_STYLE = "margin:0 0 .75rem;font-size:.875rem;color:#4f5262"  # 4.5:1 or more on white, as page.css
# Ten bars in plain HTML, not a chart: a chart library costs the server and the phone far more, for
# ten numbers with no axis to read.
BARS_STYLE = ("display:flex;align-items:flex-end;gap:6px;height:{height}px;margin:.25rem 0 .5rem;"
              "font:500 .85rem/1 sans-serif;color:rgb(49,51,63)")


@functools.lru_cache(maxsize=4096)  # ~1 KB each; thread-safe; nothing a client sends can clear it
def training_picture(index: int, side: int = 140) -> str:
    """MNIST training image `index`, enlarged to `side` px, as a PNG data URL: made once for all
    visitors (drawings of the same digit often share their nearest images)."""
    (x_train, _), _ = services.mnist()
    return png_data_url(enlarge(x_train[index], side))


def section(title: str, note: str = "") -> str:
    """HTML for a section's heading (h2, under the page's h1 title) and a grey note under it (as st.caption)."""
    out = f'<h2 style="{HEADING_STYLE}">{html.escape(title)}</h2>'
    return out + (f'<p style="{NOTE_STYLE}">{html.escape(note)}</p>' if note else "")


def figures(pictures, captions, width: int = 140, pixelated=(), alts=None) -> str:
    """HTML for pictures (data URLs) in a row that wraps on a phone, each `width` px wide with its
    caption under it and `alts` (else the caption) as its alternative text. Those whose index is in
    `pixelated` are small images (a 28 x 28 digit) drawn with square pixels by the browser, rather
    than enlarged and encoded by the server."""
    alts = captions if alts is None else alts
    items = "".join(
        f'<figure style="margin:0;width:{width}px">'
        f'<img src="{url}" alt="{html.escape(alt)}" width="{width}" height="{width}" '
        f'style="display:block;width:{width}px;height:{width}px'
        f'{";image-rendering:pixelated" if i in pixelated else ""}">'
        f'<figcaption style="{NOTE_STYLE};margin:.25rem 0 0;text-align:center">{html.escape(caption)}</figcaption>'
        f'</figure>'
        for i, (url, caption, alt) in enumerate(zip(pictures, captions, alts)))
    return f'<div style="display:flex;flex-wrap:wrap;gap:.75rem;margin-bottom:.5rem">{items}</div>'


def chance_bars(probabilities, height: int = 150) -> str:
    """HTML for ten bars, digit 0 to 9, as tall as the model's (calibrated) probability for each;
    the digit read in the theme's red, the others grey. For st.html."""
    values = [float(p) for p in probabilities]
    top = int(np.argmax(values)) if values else -1
    label = _(", ").join(_("{digit}: about {percent}").format(digit=d, percent=percent(min(round(100 * p), 99) / 100))
                         for d, p in enumerate(values) if p >= 0.01)
    bars = "".join(
        f'<div style="flex:1;display:flex;flex-direction:column;align-items:center;gap:4px;height:100%">'
        f'<div style="flex:1;width:100%;display:flex;align-items:flex-end">'
        f'<div style="width:100%;height:{max(p * 100, 1):.1f}%;border-radius:3px 3px 0 0;'
        f'background:{"#ff4b4b" if d == top else "#a3a8b8"}"></div></div><span>{d}</span></div>'
        for d, p in enumerate(values))
    label = html.escape(_("The model's chances: {chances}").format(chances=label))
    return f'<div role="img" aria-label="{label}" style="{BARS_STYLE.format(height=height)}">{bars}</div>'
