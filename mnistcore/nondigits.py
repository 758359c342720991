"""Drawings a digit reader must refuse, and digits it must read, made the way the Draw page's
canvas draws them (mnistcore.pen): letters of several styles, signs and shapes (heart, star,
arrow, smiley), scribbles, two-digit numbers and digits cut off at the canvas' edge.

Two styles: FIT, what a model's open-set companion (mnistcore.openset) is fitted on whenever a
model is trained, and HELD_OUT, what bench/openset_bench.py measures on and nothing is fitted on:
the same letters and shapes drawn by other hands (more slant and wobble), other seeds, other
MNIST images.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .pen import CANVAS, pen_digit, pen_number, pen_scribble, pen_shape
from .preprocess import Steps, ink_steps
from .pen import as_canvas

NOT_A_DIGIT = -1  # the label of anything that is not a digit


@dataclass(frozen=True)
class Style:
    """How one set's non-digits are drawn."""

    name: str
    letters: tuple[str, ...]   # names in mnistcore.pen.SHAPES
    signs: tuple[str, ...]
    turn: float                # degrees a stroke may turn (a hand's slant)
    wobble: float              # how far a point may stray, as a fraction of the size
    seed: int
    hands: float = 1.0         # each drawing's hand between this share of turn and wobble and all of them


LETTERS = tuple("ABCDEFGHKLMNPRSTVWXYZ")  # not I or O: drawn, they are a 1 and a 0
SIGNS = ("+", "#", "star", "square", "triangle", "heart", "arrow", "smiley", "spiral", "check", "circle-x", "cloud")
# The fitting set's hands go from neat to sloppy: a companion that knows one hand only is fooled by the next.
FIT = Style("fit", LETTERS, SIGNS, turn=25, wobble=0.05, seed=11, hands=0.2)
HELD_OUT = Style("held-out", LETTERS, SIGNS, turn=18, wobble=0.035, seed=29)

# Shares of the non-digits, by kind.
KINDS = {"letter": 0.4, "sign": 0.3, "scribble": 0.1, "number": 0.1, "cut": 0.1}


@dataclass(frozen=True)
class Drawing:
    kind: str          # "digit" or one of KINDS
    label: int         # the digit, or NOT_A_DIGIT
    name: str          # e.g. "letter A", "sign heart", "digit 7"
    ink: np.ndarray    # (CANVAS, CANVAS) float32 in [0, 1]


def digit_drawing(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit as a visitor draws it at a normal size: the site's pen mostly, sometimes a
    stylus' thin line or a marker, anywhere on the canvas it fits."""
    choice = rng.uniform()
    if choice < 0.6:
        pen, size = 22, int(rng.integers(90, 261))
    elif choice < 0.85:
        pen, size = int(rng.choice([6, 8, 10])), int(rng.integers(80, 261))
    else:
        pen, size = int(rng.choice([30, 34])), int(rng.integers(160, 261))
    top, left = rng.integers(0, CANVAS - size + 1, 2)
    return pen_digit(image, size, int(top), int(left), pen)


def non_digit(kind: str, style: Style, images: np.ndarray, rng: np.random.Generator, k: int) -> tuple[str, np.ndarray]:
    """The k-th non-digit of `kind` in `style`: (its name, its ink)."""
    size = float(rng.uniform(100, 250))
    centre = tuple(rng.uniform(size / 2, CANVAS - size / 2, 2))
    if kind in ("letter", "sign"):
        names = style.letters if kind == "letter" else style.signs
        name = names[k % len(names)]
        pen = float(rng.choice([22, 22, 10, 30]))
        hand = 1.0 if style.hands == 1.0 else rng.uniform(style.hands, 1.0)
        return f"{kind} {name}", pen_shape(name, size, centre, rng, pen, style.turn * hand, style.wobble * hand)
    if kind == "scribble":
        return "scribble", pen_scribble(rng, size, int(rng.integers(5, 16)), centre)
    a, b = rng.choice(len(images), 2, replace=False)
    if kind == "number":
        tall = int(rng.integers(90, 170))
        return "number", pen_number(images[a], images[b], tall, int(rng.integers(6, 30)),
                                    int(rng.integers(0, CANVAS - tall)))
    if kind == "cut":  # a large digit most of which runs off one edge of the canvas
        tall = int(rng.integers(180, 261))
        off = int(tall * rng.uniform(0.45, 0.7))
        top, left = [(-off, int(rng.integers(0, CANVAS - tall))), (CANVAS - tall + off, 0),
                     (int(rng.integers(0, CANVAS - tall)), -off), (0, CANVAS - tall + off)][k % 4]
        return "cut", pen_digit(images[a], tall, top, left)
    raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")


def drawings(images: np.ndarray, labels: np.ndarray, style: Style, digits: int, non_digits: int) -> list[Drawing]:
    """`digits` drawings of MNIST `images` (with their `labels`) and `non_digits` others in `style`;
    always the same for the same arguments."""
    return list(each_drawing(images, labels, style, digits, non_digits))


def drawing_count(images: np.ndarray, digits: int, non_digits: int) -> int:
    """How many drawings `drawings` makes with these arguments."""
    return min(digits, len(images)) + sum(round(non_digits * share) for share in KINDS.values())


def each_drawing(images: np.ndarray, labels: np.ndarray, style: Style, digits: int, non_digits: int):
    """The drawings of `drawings`, one at a time as they are made (thousands take minutes)."""
    if len(images) != len(labels) or len(images) < 2:
        raise ValueError(f"need at least 2 images with one label each, got {len(images)} and {len(labels)}")
    rng = np.random.default_rng(style.seed)
    for i in rng.choice(len(images), min(digits, len(images)), replace=False):
        yield Drawing("digit", int(labels[i]), f"digit {int(labels[i])}", digit_drawing(images[i], rng))
    for kind, share in KINDS.items():
        for k in range(round(non_digits * share)):
            name, ink = non_digit(kind, style, images, rng, k)
            yield Drawing(kind, NOT_A_DIGIT, name, ink)


def canvas_steps(drawing: Drawing) -> Steps | None:
    """The Draw page's preprocessing of a drawing, as the browser sends it."""
    return ink_steps(as_canvas(drawing.ink))


def image_steps(image: np.ndarray) -> Steps | None:
    """A drawing kept in MNIST's format ((28, 28) uint8, as the lab keeps visitors' drawings) sent
    again as the canvas would send it: scaled up to the canvas and read by the Draw page's preprocessing."""
    image = np.asarray(image)
    if image.shape != (28, 28):
        raise ValueError(f"expected a (28, 28) image, got shape {image.shape}")
    ink = ndimage.zoom(image.astype(np.float32) / 255.0, CANVAS / 28, order=1)
    return ink_steps(as_canvas(ink))
