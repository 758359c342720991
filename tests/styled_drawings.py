"""Digits in styles MNIST rarely has, drawn with the site's pen: a crossed 7, a 1 with a flag and
a base, a closed 4 and an open 4, a 9 with a straight tail, a 2 with a loop.

MNIST's writers were American census staff and students; many visitors write the European or
the school way. Each style is a few strokes in a unit box (x right, y down, as a hand moves), drawn
the way the Draw page draws them (tests/drawings.py: a round pen, 22 px on a 280 x 280 canvas),
in variants: slanted, turned a little, large and small, anywhere on the canvas, with a fine pen
or a marker. For bench/handwriting.py's "styled" column and tests.

    .venv/bin/python -m tests.styled_drawings /tmp/styled.png   # a contact sheet, to look at
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tests.drawings import CANVAS, PEN, pen_strokes


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, points: int = 24) -> list:
    """Points along an ellipse from angle `start` to `end` (degrees; 0 = right, 90 = up on screen)."""
    a = np.radians(np.linspace(start, end, points))
    return list(zip(cx + rx * np.cos(a), cy - ry * np.sin(a)))


# style: (digit, width / height of its box, strokes in the unit box (x, y), y down)
STYLES = {
    "crossed 7": (7, 0.7, [[(0.0, 0.12), (0.0, 0.0), (1.0, 0.0), (0.4, 1.0)],   # a serif, the bar, the stem
                           [(0.3, 0.52), (0.95, 0.48)]]),                        # the cross bar
    "flagged 1 with a base": (1, 0.55, [[(0.05, 0.3), (0.55, 0.0), (0.55, 1.0)],  # the flag, the stem
                                        [(0.05, 1.0), (1.0, 1.0)]]),              # the base
    "closed 4": (4, 0.75, [[(0.72, 0.0), (0.0, 0.68), (1.0, 0.68)],              # a slope up to the top
                           [(0.72, 0.0), (0.72, 1.0)]]),
    "open 4": (4, 0.75, [[(0.08, 0.0), (0.0, 0.6), (1.0, 0.6)],                  # left side, cross bar
                         [(0.75, 0.05), (0.75, 1.0)]]),                          # the stem, open at the top
    "straight-tailed 9": (9, 0.6, [arc(0.5, 0.27, 0.5, 0.27, 0, 360, 32)          # the loop, from its right ...
                                   + [(1.0, 1.0)]]),                              # ... straight down
    "2 with a loop": (2, 0.75, [arc(0.5, 0.28, 0.48, 0.28, 160, -10, 16)          # the top arc
                                + arc(0.27, 0.8, 0.14, 0.14, 220, -60, 20)         # down into a small loop
                                + [(1.0, 0.95)]]),                                # along the bottom
}


def styled_digit(style: str, rng: np.random.Generator) -> np.ndarray:
    """One drawing of `style` (a key of STYLES) as a visitor's hand makes it: (CANVAS, CANVAS) float32 ink.

    Height 110-230 px, a little wider or narrower, slanted up to 15 degrees either way, turned up
    to 8, its strokes wobbling smoothly by about 1% of its size, anywhere it fits; pen 22 px (the site's) most
    of the time, else 10, or 32 on a large one.
    """
    _, aspect, strokes = STYLES[style]
    height = rng.uniform(110, 230)
    # A marker only on a large digit: a small one drawn with it is a blob to a human too.
    pen = float(rng.choice([PEN, PEN, PEN, 10, 32 if height > 170 else PEN]))
    width = height * aspect * rng.uniform(0.85, 1.15)
    slant = np.tan(np.radians(rng.uniform(-15, 15)))  # x moves right by slant per px going up
    turn = np.radians(rng.uniform(-8, 8))
    rotate = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    core = np.array([max(width - pen, 1), max(height - pen, 1)])  # the pen's centre line stays inside
    shaped = []
    for stroke in strokes:
        xy = (np.asarray(stroke, np.float64) - 0.5) * core                  # about the box's middle, px
        xy[:, 0] -= slant * xy[:, 1]                                         # lean (y grows downward)
        xy = xy @ rotate.T + _wobble(rng, len(xy), 0.012 * height)
        shaped.append(xy)
    every = np.vstack(shaped)
    low, high = every.min(axis=0) - pen / 2, every.max(axis=0) + pen / 2
    room_low, room_high = -low + 2, CANVAS - high - 2                        # where its middle may go
    centre = np.array([rng.uniform(min(room_low[i], room_high[i]), max(room_low[i], room_high[i]))
                       for i in (0, 1)])
    return pen_strokes([xy + centre for xy in shaped], pen)


def _wobble(rng: np.random.Generator, points: int, size: float) -> np.ndarray:
    """(points, 2) px: a hand's unsteadiness, drifting smoothly along a stroke rather than jittering."""
    knots = rng.normal(0, size, (4, 2))
    at = np.linspace(0, 3, points)
    return np.column_stack([np.interp(at, np.arange(4), knots[:, i]) for i in (0, 1)])


def styled_set(per_style: int = 15, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """`per_style` drawings of every style: (drawings (n, CANVAS, CANVAS) float32 ink, digits (n,)
    int64, style names (n,)), the same every time for a given seed."""
    rng = np.random.default_rng(seed)
    drawings, digits, names = [], [], []
    for style, (digit, _, _) in STYLES.items():
        for _ in range(per_style):
            drawings.append(styled_digit(style, rng))
            digits.append(digit)
            names.append(style)
    return np.stack(drawings), np.array(digits, np.int64), names


def contact_sheet(drawings: np.ndarray, columns: int = 15, side: int = 70) -> np.ndarray:
    """The drawings side by side as one uint8 grey image, `side` px each, white on black, grid lines grey."""
    from PIL import Image
    rows = -(-len(drawings) // columns)
    sheet = np.full((rows * (side + 2), columns * (side + 2)), 90, np.uint8)
    for i, ink in enumerate(drawings):
        small = np.asarray(Image.fromarray(np.uint8(np.clip(ink, 0, 1) * 255)).resize((side, side), Image.LANCZOS))
        r, c = divmod(i, columns)
        sheet[r * (side + 2) : r * (side + 2) + side, c * (side + 2) : c * (side + 2) + side] = small
    return sheet


if __name__ == "__main__":
    from PIL import Image
    drawings, _, _ = styled_set()
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/styled.png")
    Image.fromarray(contact_sheet(drawings)).save(out)
    print(f"{len(drawings)} drawings -> {out}")
