"""Canvas drawings for tests: real MNIST digits redrawn the way a visitor would draw them."""
import numpy as np
from scipy import ndimage

CANVAS = 280  # the Draw page's canvas, in pixels


def as_canvas(ink: np.ndarray, background="opaque") -> np.ndarray:
    """Ink (H, W) in [0, 1] as streamlit-drawable-canvas returns it: RGBA uint8."""
    value = np.round(np.clip(ink, 0, 1) * 255).astype(np.uint8)
    rgba = np.empty(ink.shape + (4,), np.uint8)
    if background == "opaque":       # white pen on a black canvas
        rgba[..., :3] = value[..., None]
        rgba[..., 3] = 255
    elif background == "transparent":  # white pen, transparent background
        rgba[..., :3] = 255
        rgba[..., 3] = value
    else:                              # black pen on white paper
        rgba[..., :3] = 255 - value[..., None]
        rgba[..., 3] = 255
    return rgba


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
