"""Small images made ready for people's eyes: enlarged crisply, mistakes framed in red, as PNGs.

A browser smooths a 28x28 image shown at 84 px into a blur; enlarging it here by repeating
pixels keeps MNIST's pixels visible, which is the point of looking at them.
"""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

MISTAKE_RED = (230, 40, 40)
FRAME = 3  # px of red around a mistake


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A grey image as uint8 0-255: uint8 passes through, floats are taken as 0-1."""
    img = np.asarray(image)
    if img.dtype == np.uint8:
        return img
    return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def png_data_url(image: np.ndarray, side: int | None = None) -> str:
    """A grey image (uint8, or floats in [0, 1]) as a PNG data URL; with `side`, shrunk to fit
    `side` px (a phone's canvas arrives at 2-3 times its size on screen).

    Streamlit passes a data URL through as it is, where an array is encoded again and filed with
    its media store on every rerun: encode a drawing's pictures once, keep the URLs."""
    picture = Image.fromarray(to_uint8(image))
    if side is not None and max(picture.size) > side:
        picture.thumbnail((side, side), Image.Resampling.BOX)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # a few KB either way; level 1 is the fastest
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def shrink(image: np.ndarray, side: int) -> np.ndarray:
    """A grey image as uint8, every n-th pixel each way so that it is at most `side` px a side (a
    quick thumbnail: a drawing's steps are kept this way while their pictures wait)."""
    step = max(1, -(-max(np.shape(image)) // side))
    return to_uint8(np.asarray(image)[::step, ::step])


def enlarge(image: np.ndarray, side: int) -> np.ndarray:
    """A grey (h, w) image repeated by the largest whole factor that keeps it within `side` px.

    Images already larger than `side` are returned as they are (uint8); the page scales them.
    """
    img = to_uint8(image)
    if img.ndim != 2:
        raise ValueError(f"enlarge needs a grey (h, w) image, got shape {img.shape}")
    factor = max(1, side // max(img.shape))
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def square(image: np.ndarray, side: int) -> np.ndarray:
    """A grey image centred on a black square (so steps of different shapes line up), enlarged."""
    img = to_uint8(image)
    if img.ndim != 2:
        raise ValueError(f"square needs a grey (h, w) image, got shape {img.shape}")
    h, w = img.shape
    n = max(h, w)
    out = np.zeros((n, n), np.uint8)
    top, left = (n - h) // 2, (n - w) // 2
    out[top : top + h, left : left + w] = img
    return enlarge(out, side)


def tiles(images: np.ndarray, mistakes: np.ndarray, scale: int = 3) -> list[np.ndarray]:
    """Gallery tiles: each (28, 28) image enlarged `scale` times as RGB, mistakes in a red frame.

    `images` (n, 28, 28) uint8; `mistakes` (n,) bool. Every tile has the same size, so the grid
    lines up whether or not it is framed.
    """
    images = np.asarray(images)
    mistakes = np.asarray(mistakes, bool)
    if images.ndim != 3 or len(images) != len(mistakes):
        raise ValueError(f"tiles needs images (n, h, w) and mistakes (n,); got {images.shape} and {mistakes.shape}")
    big = np.repeat(np.repeat(to_uint8(images), scale, axis=1), scale, axis=2)  # (n, H, W)
    rgb = np.repeat(big[..., None], 3, axis=3)
    padded = np.zeros((len(rgb), rgb.shape[1] + 2 * FRAME, rgb.shape[2] + 2 * FRAME, 3), np.uint8)
    padded[mistakes] = MISTAKE_RED
    padded[:, FRAME:-FRAME, FRAME:-FRAME] = rgb
    return list(padded)
