"""What the Draw page shows of one drawing or photo: the model's answer in words, and what it saw.

One call, `Reader.read(source, known)`, turns what the visitor sent (the canvas' picture or a photo
of paper) into a `Reading`: why it cannot be read, or the steps that made it MNIST-like, the
model's answer, the verdict on it, the steps as pictures and the nearest training images. Given
the last Reading back, `read` works nothing out again for the same drawing and model; and the
pictures and nearest images (a quarter of what a drawing costs) may wait while the server is busy
(`pictures=False`): a later `read` of the same drawing adds them.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..canvas import data_url_from, read_canvas_png
from ..i18n import gettext as _
from ..nets.base import DigitModel
from ..photo import NotPaper, photo_steps, read_photo
from ..preprocess import Steps, ink_steps
from .answer import (PHOTO_MESSAGES, TEMPERATURE, Answer, DigitReference, DrawingVerdict, judge_drawing, open_set_for,
                     read_answer)
from .pictures import png_data_url, shrink, square

log = logging.getLogger("mnistlab")
SHOWN = 140       # px a side of the step pictures as shown; larger steps are kept this small
NEAREST = 3       # training images shown beside a drawing


@dataclass(frozen=True)
class Source:
    """What the visitor sent, named so that one drawing is read once."""

    name: str               # "drawing:<hash of the picture>", "photo:<upload id>" or "refused:<why>"
    data: object            # the canvas' picture (a PNG data URL), the photo's bytes, or why it was refused
    on_paper: bool = False  # a photo of paper rather than a drawing on the canvas
    side: int = 0           # the canvas' width and height in CSS pixels, which its picture must fit


def canvas_source(value: object, side: int) -> Source | None:
    """The canvas component's value as a Source, None while nothing is drawn. Its name is the
    picture's hash, so that nothing is worked out twice for one drawing."""
    try:
        data_url = data_url_from(value)
    except ValueError as err:  # not the canvas' kind of value at all
        return Source(f"refused:{err}", err, side=side)
    if data_url is None:
        return None
    text = data_url if isinstance(data_url, str) else repr(data_url)  # read_canvas_png says what is wrong
    return Source("drawing:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest(), data_url, side=side)


def photo_source(upload_id: str, data: bytes) -> Source:
    """An uploaded or camera photo (`upload_id`: the upload's own id, new for each photo)."""
    return Source(f"photo:{upload_id}", data, on_paper=True)


@dataclass(frozen=True)
class Reading:
    """All the page shows of one drawing (or photo) read by one model, worked out once."""

    key: tuple                           # (the source's name, the model's id)
    problem: str | None = None           # why it cannot be read; else None
    verdict: DrawingVerdict | None = None  # None for a blank canvas or a problem
    answer: Answer | None = None         # the model's own figures, when the verdict is a digit
    centred: np.ndarray | None = None    # (28, 28) float32 in [0, 1]: what the model read
    raw_size: tuple = ()                 # (height, width) of the drawing as sent, px
    pictures: tuple = ()                 # PNG data URLs of the four steps, once made
    nearest: tuple = ()                  # (index, label) of the nearest training images, nearest first
    steps: tuple = field(default=(), repr=False)  # the four steps, at most SHOWN px, until made pictures

    @property
    def pictures_later(self) -> bool:
        """A digit whose pictures and nearest images were left out while the server was busy."""
        return self.answer is not None and not self.pictures


def _no_reference() -> DigitReference | None:
    return None


def _no_nearest(image: np.ndarray, k: int) -> tuple:
    return ()


@dataclass(frozen=True)
class Reader:
    """A model reading drawings, with MNIST's help fetched only when a drawing needs it."""

    model: DigitModel
    model_id: str                       # a new id (another model made live) reads every drawing again
    temperature: float = TEMPERATURE    # for the model's calibrated probabilities (answer.temperature_for)
    reference: Callable[[], DigitReference | None] = _no_reference  # MNIST's digits, to tell a scribble
    nearest: Callable[[np.ndarray, int], tuple] = _no_nearest       # (index, label) of k nearest images

    def read(self, source: Source, known: Reading | None = None, pictures: bool = True) -> Reading:
        """The Reading of `source`: `known` itself when it is one of the same drawing by this model
        (with its pictures added if they waited and `pictures` allows), else worked out afresh."""
        key = (source.name, self.model_id)
        if known is not None and known.key == key:
            return self.with_pictures(known) if pictures else known
        steps = _photo_steps(source.data) if source.on_paper else _drawing_steps(source.data, source.side)
        if isinstance(steps, str):
            return Reading(key, problem=steps)
        if steps is None:  # a blank canvas (Clear sends one)
            return Reading(key)
        reading = self._understand(key, steps, source.on_paper)
        return self.with_pictures(reading) if pictures else reading

    def _understand(self, key: tuple, steps: Steps, on_paper: bool) -> Reading:
        """The model's answer and the verdict on it, the steps kept small for their pictures."""
        probabilities = self.model.predict_proba(steps.centred)[0]
        # The model's companion knows what is not a digit; without one, the MNIST look-alike check
        # (tuned to the canvas' pen) is for drawings only, and photos get the shape checks.
        open_set = open_set_for(self.model.info)
        verdict = judge_drawing(steps, probabilities, reference=None if on_paper and open_set is None
                                else self.reference(), temperature=self.temperature, open_set=open_set)
        if verdict.kind != "digit":  # nothing to show but what the verdict says
            return Reading(key, verdict=verdict, centred=steps.centred, raw_size=steps.ink.shape)
        # A phone's drawing arrives at up to 4 times the canvas' size: kept small while it waits.
        return Reading(key, verdict=verdict, answer=read_answer(probabilities), centred=steps.centred,
                       raw_size=steps.ink.shape,
                       steps=(shrink(steps.ink, SHOWN), shrink(steps.cropped, SHOWN), steps.scaled, steps.centred))

    def with_pictures(self, reading: Reading) -> Reading:
        """`reading` with its steps as pictures and its nearest training images, if they waited."""
        if not reading.pictures_later:
            return reading
        ink, cropped, scaled, centred = reading.steps
        # The drawing and its crop shrunk to the size shown; the two small steps as they are (the
        # browser enlarges them with square pixels).
        pictures = (*(png_data_url(square(step, SHOWN), side=SHOWN) for step in (ink, cropped)),
                    *(png_data_url(square(step, max(step.shape))) for step in (scaled, centred)))
        return replace(reading, pictures=pictures, nearest=tuple(self.nearest(centred, NEAREST)), steps=())


def _drawing_steps(data_url: object, side: int) -> Steps | str | None:
    """The drawing's preprocessing steps, None when the canvas is blank, or why it cannot be read."""
    try:
        if isinstance(data_url, ValueError):
            raise data_url
        return ink_steps(read_canvas_png(data_url, side, side))
    except ValueError as err:  # DrawingError, or a picture preprocessing cannot use
        log.warning("draw: refused a drawing: %s", err)
        return _("This drawing cannot be read: {reason}. Clear it and try again.").format(reason=err)


def _photo_steps(data: bytes) -> Steps | str:
    """The photo's preprocessing steps, or why it cannot be read (finding the ink takes ~0.1 s)."""
    try:
        steps = photo_steps(read_photo(data))
    except NotPaper as err:  # a face, a room, a page of print: said in the visitor's words
        log.info("draw: refused a photo: %s", err)
        return _(PHOTO_MESSAGES[err.kind])
    except ValueError as err:  # PhotoError, or a picture preprocessing cannot use
        log.warning("draw: refused a photo: %s", err)
        return _("This picture cannot be read: {reason}. Try another one.").format(reason=err)
    if steps is None:
        return _("No digit found in this picture: write it large with a dark pen, with paper all round it.")
    return steps
