"""Looking inside a network: the tutorial's back query, what its first layer looks for, and
which training images a drawing is closest to. (What it imagines for each digit, for every
model: imagine.py; a convnet's feature maps: convnet.py.)

All images returned here are float32 in [0, 1], ready to show.
"""
from __future__ import annotations

import numpy as np
import scipy.special

from ..nets.base import DigitModel
from ..nets.registry import BACK_QUERY, CONV_FILTERS, FEATURE_MAPS, FIRST_LAYER_UNITS, HIDDEN_UNITS, network_of
from .convnet import conv_filters
from .pictures import enlarge

MARGIN = 4                 # px of page-white around each image shown side by side
OUTLINE = (170, 178, 196)  # a blue-grey, which no grey pixel is: where each image ends is clear


__all__ = ["BACK_QUERY", "CONV_FILTERS", "FEATURE_MAPS", "FIRST_LAYER_UNITS", "HIDDEN_UNITS", "MARGIN", "back_query",
           "first_layer_images", "hidden_unit_images", "shows", "spaced"]


def shows(model: DigitModel) -> tuple[str, ...]:
    """What Look inside shows of this model: the registry's view names (BACK_QUERY, CONV_FILTERS, ...)."""
    return network_of(model.info).views


def back_query(net, digit: int) -> np.ndarray:
    """The tutorial's back query: run the NumPy network backwards from the output for `digit`.

    (From "Make Your Own Neural Network", which the tutorial follows.) The target output (0.99
    for the digit, 0.01 elsewhere) goes back through each layer: the inverse of the activation,
    then the transposed weights, then a rescale into the activation's range. For the ReLU/softmax
    network the inverse of softmax is the log (up to a constant) and ReLU's is itself on its
    positive range. Returns (28, 28).
    """
    if not 0 <= digit <= 9:
        raise ValueError(f"digit must be 0-9, got {digit!r}")
    targets = np.full(net.onodes, 0.01)
    targets[digit] = 0.99
    wih, who = net.wih.astype(np.float64), net.who.astype(np.float64)
    if net.activation == "sigmoid":
        final_inputs = scipy.special.logit(targets)
        hidden_outputs = _rescale(who.T @ final_inputs, 0.01, 0.99)
        hidden_inputs = scipy.special.logit(hidden_outputs)
    else:
        final_inputs = np.log(targets) - net.bo
        hidden_inputs = np.maximum(who.T @ final_inputs, 0.0) - net.bh
    image = wih.T @ hidden_inputs
    return _rescale(image, 0.0, 1.0).reshape(28, 28).astype(np.float32)


def hidden_unit_images(net, count: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The incoming weights of `count` hidden units as (count, 28, 28) images, and their indices.

    Units are those with the largest weight norm (the ones that learned the most); each image is
    scaled on its own so 0.5 is a zero weight, brighter is positive, darker negative.
    """
    norms = np.linalg.norm(net.wih, axis=1)
    units = np.argsort(norms)[::-1][:count]
    return _signed_images(net.wih[units].reshape(-1, 28, 28)), units


def first_layer_images(model: DigitModel, count: int = 16) -> np.ndarray:
    """What the first layer of any of our models looks for, as (count, h, w) images: a convnet's
    first filters (3 x 3), else the incoming weights (28 x 28) of its strongest first-layer units."""
    views = shows(model)
    if CONV_FILTERS in views:
        return _signed_images(conv_filters(model)[:count])
    if HIDDEN_UNITS in views:
        return hidden_unit_images(model, count)[0]
    if FIRST_LAYER_UNITS not in views:
        raise ValueError(f"a {model.info.engine} {model.info.architecture} model shows no first layer")
    layer = next(layer for layer in model.model.layers if layer.get_weights())
    kernel = layer.get_weights()[0]            # Keras Dense: (784, units)
    norms = np.linalg.norm(kernel, axis=0)
    units = np.argsort(norms)[::-1][:count]
    return _signed_images(kernel[:, units].T.reshape(-1, 28, 28))


def spaced(images: np.ndarray, side: int, margin: int = MARGIN) -> list[np.ndarray]:
    """Images to show side by side: each enlarged crisply to at most `side` px (pixels repeated,
    so a 3x3 filter stays nine squares), outlined in blue-grey and set in a white margin, so that
    neighbours stand apart and a white pixel at an edge is not lost in the page.

    `images`: (n, h, w) floats in [0, 1] or uint8. Returns n RGB uint8 arrays, each
    (side + 2 margin) px square or a little less.
    """
    if margin < 1:
        raise ValueError(f"margin must be at least 1 px (the outline), got {margin!r}")
    tiles = []
    for image in images:
        big = enlarge(image, side)
        h, w = big.shape
        tile = np.full((h + 2 * margin, w + 2 * margin, 3), 255, np.uint8)
        tile[margin - 1 : margin + h + 1, margin - 1 : margin + w + 1] = OUTLINE
        tile[margin : margin + h, margin : margin + w] = big[..., None]
        tiles.append(tile)
    return tiles


def _rescale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    span = values.max() - values.min()
    if span == 0:
        return np.full_like(values, (low + high) / 2)
    return (values - values.min()) / span * (high - low) + low


def _signed_images(weights: np.ndarray) -> np.ndarray:
    """Each image scaled by its own largest |weight|: 0.5 = zero, 1 = most positive."""
    scale = np.abs(weights).reshape(len(weights), -1).max(axis=1)
    scale[scale == 0] = 1.0
    return (0.5 + 0.5 * weights / scale[:, None, None]).astype(np.float32)
