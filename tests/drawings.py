"""Canvas drawings for tests and bench/draw_bench.py: real MNIST digits redrawn the way a visitor
would draw them, and what visitors draw that is not a digit (dots, lines, blobs, letters, numbers)."""
import numpy as np
from scipy import ndimage

from mnistcore.pen import (CANVAS, PEN, SHAPES, as_canvas, digit_path, path_mask, pen_blob, pen_digit, pen_dot,  # noqa: F401
                           pen_ink, pen_line, pen_number, pen_scribble, pen_shape, pen_strokes, thin)


def draw(digit: np.ndarray, size: int, top: int, left: int, stroke: str = "normal") -> np.ndarray:
    """A real MNIST digit redrawn on a 280x280 canvas: `size` px tall at (top, left)."""
    ink = ndimage.zoom(digit.astype(np.float32) / 255, size / 28, order=1)
    ink = ndimage.gaussian_filter(ink, size / 100)
    if stroke == "thin":      # a fine pen: the stroke's core only
        ink = (ink > 0.85 * ink.max()).astype(np.float32)
    elif stroke == "thick":   # a marker
        ink = ndimage.grey_dilation(ink, size=(size // 8, size // 8))  # strokes 2-3x MNIST's
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    h, w = ink.shape
    canvas[top : top + h, left : left + w] = ink[: CANVAS - top, : CANVAS - left]
    return canvas


