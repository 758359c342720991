"""The model's answer for one drawing, in plain words: a digit and how sure, or what else it is.

Two ways in:

- `judge_drawing(steps, probabilities, reference=...)` for the Draw page: is the drawing a digit
  at all (or blank, a dot, a line, a blob, too small, two digits, something else), and if so
  which and how sure, in words a visitor reads right ("sure", "fairly sure", "guessing: 4 or 9?").
- `read_answer(probabilities)`: a model's raw answer (the top digit, its probability, the
  runner-up), for tables that compare models.

Certainty comes from CALIBRATED probabilities. A network trained to a cross-entropy minimum says
"100%" for nearly anything, and more so for canvas drawings, which are not quite MNIST. Dividing
its log-probabilities by a temperature (Guo et al., "On calibration of modern neural networks",
2017) makes "90%" right about 9 times in 10; bench/draw_bench.py measures how close it gets.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..data import load_mnist
from ..i18n import N_, percent
from ..i18n import gettext as _
from ..openset import DigitReference, OpenSet, fit_temperature  # noqa: F401  (answer's own names too)
from ..preprocess import Shape, Steps

# ---------------------------------------------------------------------------- calibration
# Fitted (bench/draw_bench.py --fit-temperature) on canvas drawings of MNIST digits that a twin of
# the shipped recipe never saw; the test set only measures. Canvas drawings need a higher
# temperature than MNIST's own images: they are not quite MNIST (docs/measurements.md).
TEMPERATURE = 2.0


def open_set_for(info) -> OpenSet | None:
    """A model's companion from its ModelInfo, None for a model saved without one."""
    return OpenSet.from_dict(getattr(info, "open_set", None))


def temperature_for(info) -> float:
    """The temperature for a model (its ModelInfo): its own fitted one, else TEMPERATURE.

    Each recipe needs its own: the convnet trained with distortions is about as sure as it is
    right on canvas drawings, where the MLP is far too sure. A model's companion (open_set_for) has
    its own, fitted with it.
    """
    companion = open_set_for(info)
    t = companion.temperature if companion is not None else getattr(info, "temperature", None)
    return float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) and 0.1 <= t <= 20 else TEMPERATURE

# The words, chosen from the measured reliability (bench/draw_bench.py): on drawings of unseen
# digits, answers the calibrated model gives at least SURE are right about 99 times in 100, those
# from FAIRLY_SURE about 8 in 10, and below that it is a guess between its two best digits.
SURE = 0.9
FAIRLY_SURE = 0.6
CERTAINTY = (N_("sure"), N_("fairly sure"), N_("guessing"))

# ---------------------------------------------------------------------------- what is a digit
# Measured in pen widths (Shape.pens: the drawing's longer side over its stroke width), so the
# rules hold for any pen and canvas. Chosen on drawings of the last 5,000 MNIST training digits
# and of non-digits (bench/draw_bench.py --digits train --seed 1), then checked on the test set.
SPECK = 0.05         # ink under this fraction of the canvas (14 px of 280) is a dot, whatever its shape
DOT_PENS = 1.6       # under 1.6 pen widths long, ink is about as thick as it is long: a dot up to DOT
DOT = 0.13           # (36 px of 280), a blob from BLOB (84 px) up, and in between a digit drawn too
BLOB = 0.3           # small (a 3 drawn 45 px tall with the site's 22-px pen is a lump)
LARGE = 0.4          # strokes too fat for the size on a drawing this large (112 px of 280): a blob
SMALL = 0.1          # a digit under this fraction of the canvas is too small to read, whatever the pen
STUB_PENS = 2.5      # under 2.5 pen widths long, even a 1 is a stub: draw it bigger
STRAIGHT = 1.35      # one straight stroke is at most this many pen widths across ...
ONE_TILT = 40.0      # ... and it is a 1 when upright to within this many degrees (99% of MNIST's 1s)
SMALL_PENS = 3.5     # under 3.5 pen widths long (77 px with a 22-px pen), loops close and strokes run
                     # together: drawings of unseen digits this small are read right 3 times in 4
# A drawing whose image is further from MNIST's images of the digit the model names
# (DigitReference.distance) than 99.5% of the real digits drawn, or further than 95% of them
# while the model is not SURE of it, does not look like a digit (what that costs: docs/measurements.md).
FAR = 0.27
RATHER_FAR = 0.20
MAX_HOLES = 3        # no digit has more loops than an 8's two (three allows for a pinched 8)

KINDS = ("digit", "too_small", "dot", "line", "blob", "not_a_digit", "two_digits", "blank")

# In English: a verdict may be kept and shown again after the visitor changes language, so its
# words are translated where they are shown (DrawingVerdict.explanation, .said).
MESSAGES = {
    "blank": N_("Draw a digit (0 to 9) in the black box, as large as the box allows."),
    "dot": N_("That is only a dot. Draw a digit (0 to 9), as large as the box allows."),
    "too_small": N_("Draw it bigger: this small, the pen's strokes run together. Use most of the box."),
    "line": N_("That is a straight line, not a digit. Draw a digit (0 to 9); a 1 stands upright."),
    "blob": N_("That is a blob of ink, not a digit. Clear it and draw a digit with a few clean strokes."),
    "two_digits": N_("That looks like two digits: draw one at a time."),
    "not_a_digit": N_("That does not look like a digit to me. Draw one digit, 0 to 9."),
}
# What a photo shows instead of one digit on paper (mnistcore.photo.NotPaper's kinds).
PHOTO_MESSAGES = {
    "printed": N_("This looks like a page of printed text, not one digit. Write a single digit large on a sheet "
                  "of its own, then take a photo of that."),
    "no_paper": N_("I can't find a sheet of paper in this photo. Write a digit large on white paper with a dark "
                   "pen, then take a photo of the paper."),
}
BEST_GUESS = N_(" (If it is one, my best guess is a {digit}.)")
GUESSING = N_("guessing: {digit} or {runner_up}?")


@dataclass(frozen=True)
class DrawingVerdict:
    """What the Draw page says about a drawing.

    `kind` is one of KINDS. For "digit": `digit` is the digit read, `words` how sure in words
    ("sure", "fairly sure" or "guessing: 4 or 9?"), `headline` "Prediction: 7". For anything
    else `digit`, `words` and `headline` are None and `message` says, in plain words, what the
    drawing looks like and what to do. `probabilities` are the model's ten, calibrated (empty
    for a blank canvas), so a bar chart can still show what the model made of it.
    """

    kind: str
    digit: int | None
    words: str | None
    message: str | None
    probabilities: tuple[float, ...]  # calibrated, all ten in digit order; () when blank

    @property
    def headline(self) -> str | None:
        return _("Prediction: {digit}").format(digit=self.digit) if self.kind == "digit" else None

    @property
    def guessing(self) -> bool:
        """A digit read, but only as a guess between two."""
        return self.kind == "digit" and self.words not in CERTAINTY[:2]

    @property
    def said(self) -> str | None:
        """`words` in the visitor's language."""
        if self.words is None or not self.guessing:
            return None if self.words is None else _(self.words)
        digit, runner_up = (int(d) for d in np.argsort(self.probabilities, kind="stable")[::-1][:2])
        return _(GUESSING).format(digit=digit, runner_up=runner_up)

    @property
    def explanation(self) -> str | None:
        """`message` in the visitor's language."""
        if self.kind == "digit":
            return None
        text = _(MESSAGES[self.kind])
        return text + _(BEST_GUESS).format(digit=self.best_guess) if self.kind == "not_a_digit" else text

    @property
    def probability(self) -> float | None:
        """The calibrated probability of the digit read, or of the model's best guess; None when blank."""
        return max(self.probabilities) if self.probabilities else None

    @property
    def best_guess(self) -> int | None:
        """The model's top digit, whatever the kind (None when blank): for the visitor's feedback."""
        return int(np.argmax(self.probabilities)) if self.probabilities else None

    @property
    def chance(self) -> str | None:
        """The calibrated probability as a visitor should read it: "about 80%", at most "99%"."""
        p = self.probability
        return None if p is None else _("about {percent}").format(percent=percent(min(round(100 * p), 99) / 100))


def judge_drawing(steps: Steps | None, probabilities: np.ndarray | None = None, *,
                  reference: DigitReference | None = None, temperature: float = TEMPERATURE,
                  open_set: OpenSet | None = None) -> DrawingVerdict:
    """What the Draw page says about a drawing, from its preprocessing steps and the model's answer.

    `steps`: preprocess.ink_steps(drawing), None for a blank canvas. `probabilities`: the
    model's (10,) or (1, 10) answer for `steps.centred`, needed unless `steps` is None.
    `reference`: a DigitReference built once from MNIST's training images; without one, drawings
    that are plainly not digits (letters, signs, scribbles) are caught less often. `open_set`: the
    model's companion (open_set_for(model.info)); with it and a reference, it alone decides whether
    a drawing of digit-like shape is a digit, and its temperature and words replace the defaults.
    """
    if steps is None:
        return DrawingVerdict("blank", None, None, MESSAGES["blank"], ())
    if probabilities is None:
        raise ValueError("judge_drawing needs the model's probabilities for a drawing that is not blank, got None")
    if open_set is not None:
        temperature = open_set.temperature
    p = calibrate(probabilities, temperature)
    kind = shape_kind(steps.shape)
    if kind == "digit" and not upright_stroke(steps.shape):  # an upright stroke is a 1 as it stands
        if steps.shape.holes > MAX_HOLES:
            kind = "not_a_digit"
        elif open_set is not None and reference is not None:
            distances = reference.distances(steps.centred)
            chance = open_set.digit_chance(steps.shape, probabilities, distances, steps.centred)
            if chance < open_set.threshold:
                kind = "not_a_digit"
        elif reference is not None:
            distance = reference.distance(steps.centred, int(np.argmax(p)))
            if distance > FAR or (distance > RATHER_FAR and p.max() < SURE):
                kind = "not_a_digit"
    if kind != "digit":
        message = MESSAGES[kind]
        if kind == "not_a_digit":  # it may be a digit written unusually: say what it would be
            message += BEST_GUESS.format(digit=int(np.argmax(p)))
        return DrawingVerdict(kind, None, None, message, tuple(float(v) for v in p))
    first, second = np.argsort(p, kind="stable")[::-1][:2]
    sure, fairly = (open_set.sure, open_set.fairly_sure) if open_set is not None else (SURE, FAIRLY_SURE)
    return DrawingVerdict("digit", int(first), certainty_words(float(p[first]), int(first), int(second), sure, fairly),
                          None, tuple(float(v) for v in p))


def shape_kind(shape: Shape) -> str:
    """What the ink's shape alone says: "digit" (worth reading), "dot", "blob", "line", "too_small" or "two_digits"."""
    if shape.extent < SPECK:
        return "dot"
    if shape.pens < DOT_PENS:  # as thick as it is long
        return "dot" if shape.extent < DOT else "blob" if shape.extent >= BLOB else "too_small"
    if shape.pens < STUB_PENS or shape.extent < SMALL:
        return "too_small"
    if straight_stroke(shape):  # upright, it is a 1 (MNIST's 1s are mostly just that); else a line
        return "digit" if shape.tilt <= ONE_TILT else "line"
    if shape.pens < SMALL_PENS:  # strokes too fat for the size: small, or a large scribbled patch
        return "blob" if shape.extent >= LARGE else "too_small"
    if shape.columns >= 2:
        return "two_digits"
    return "digit"


def straight_stroke(shape: Shape) -> bool:
    """One piece of ink no wider across than a straight stroke of its pen."""
    return shape.parts == 1 and shape.across <= STRAIGHT * shape.pen


def upright_stroke(shape: Shape) -> bool:
    """A straight stroke, upright as a 1 is, long enough to read (see shape_kind)."""
    return straight_stroke(shape) and shape.tilt <= ONE_TILT and shape_kind(shape) == "digit"


def certainty_words(probability: float, digit: int, runner_up: int, sure: float = SURE,
                    fairly_sure: float = FAIRLY_SURE) -> str:
    """ "sure", "fairly sure" or "guessing: 4 or 9?" for a calibrated probability of `digit`."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be 0-1, got {probability!r}")
    if probability >= sure:
        return CERTAINTY[0]
    if probability >= fairly_sure:
        return CERTAINTY[1]
    return GUESSING.format(digit=digit, runner_up=runner_up)


def calibrate(probabilities: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    """(10,) float64 probabilities softened by `temperature`: softmax(log(p) / temperature).

    The log of a softmax output is its logits up to a constant, so this is temperature scaling
    of the network's logits; the order of the digits never changes.
    """
    p = _ten(probabilities)
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    logits = np.log(np.clip(p, 1e-30, None)) / temperature
    scaled = np.exp(logits - logits.max())
    return scaled / scaled.sum()


def _ten(probabilities) -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if p.shape != (10,) or not np.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"expected 10 finite, non-negative probabilities, got {np.shape(probabilities)}: {p}")
    return p


# ---------------------------------------------------------------------------- like MNIST's digits

_reference: DigitReference | None = None
_reference_lock = threading.Lock()


def mnist_reference() -> DigitReference:
    """The DigitReference for MNIST's training images, built once per process (a few seconds).

    Reads MNIST with mnistcore.data.load_mnist (which fetches it first when it is missing).
    """
    global _reference
    with _reference_lock:
        if _reference is None:
            (images, labels), _ = load_mnist()
            _reference = DigitReference(images, labels)
        return _reference


# ---------------------------------------------------------------------------- a model's raw answer

GUESS_BELOW = 0.6    # a top probability below this is a guess
CLEAR_MARGIN = 0.3   # ... and so is a top digit this close to the runner-up (62% vs 35%)


@dataclass(frozen=True)
class Answer:
    digit: int
    probability: float
    runner_up: int
    runner_up_probability: float
    probabilities: tuple[float, ...]  # all ten, in digit order

    @property
    def sure(self) -> bool:
        return self.probability >= GUESS_BELOW and self.probability - self.runner_up_probability >= CLEAR_MARGIN

    @property
    def headline(self) -> str:
        return _("Prediction: {digit}").format(digit=self.digit)

    @property
    def doubt(self) -> str | None:
        """E.g. "not sure: 4 or 9?" when unsure, else None."""
        if self.sure:
            return None
        return _("not sure: {digit} or {runner_up}?").format(digit=self.digit, runner_up=self.runner_up)


def read_answer(probabilities: np.ndarray) -> Answer:
    """An Answer from one image's probabilities: (10,) or (1, 10), summing to 1 (as the model gives them)."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if p.shape != (10,) or not np.isfinite(p).all():
        raise ValueError(f"expected 10 finite probabilities, got shape {np.shape(probabilities)}")
    first, second = np.argsort(p, kind="stable")[::-1][:2]
    return Answer(int(first), float(p[first]), int(second), float(p[second]), tuple(float(v) for v in p))
