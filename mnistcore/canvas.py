"""A drawing as the browser sends it: a PNG data URL, checked before a single pixel is decoded.

The canvas component sends its picture as `data:image/png;base64,...`. That text comes from the
visitor's side and may be anything: not a data URL, bad base64, another image format, or a small
PNG that claims to be 12000 x 12000 pixels (a decompression bomb: 0.8 MB that decodes to 576 MB).
So the checks run from the cheapest up, and nothing is decoded until they pass:
1. text, with the PNG data-URL prefix, within a byte budget (a real drawing is a few KB);
2. base64 that decodes cleanly;
3. a PNG signature and header (IHDR) whose width and height are the canvas' own size, times the
   screen's pixel ratio (1 to 4: a phone sends its canvas at 2x or 3x);
4. only then is it decoded, by Pillow (whose own bomb warning is an error here).
"""
from __future__ import annotations

import base64
import binascii
import io
import struct
import warnings

import numpy as np
from PIL import Image

PREFIX = "data:image/png;base64,"
MAX_PNG_BYTES = 512 * 1024      # a 280 x 280 drawing is 2-10 KB; at 3x on a phone, tens of KB
MAX_PIXEL_RATIO = 4             # phones have 2-3.5; 4 leaves room, and bounds what is decoded
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class DrawingError(ValueError):
    """What the browser sent is not a drawing of this canvas; the message says why, in plain words."""


def read_canvas_png(data_url: object, width: int, height: int) -> np.ndarray:
    """The drawing in `data_url` as an (H, W, 4) uint8 RGBA array; DrawingError if it is not one.

    `width`, `height`: the canvas' size in CSS pixels; the PNG must be that size times one pixel
    ratio between 1 and MAX_PIXEL_RATIO (the same ratio for both sides, to within a pixel).
    """
    if not isinstance(data_url, str) or not data_url.startswith(PREFIX):
        raise DrawingError("the drawing did not arrive as a PNG image")
    encoded = data_url[len(PREFIX):]
    if len(encoded) > (MAX_PNG_BYTES * 4) // 3 + 4:
        raise DrawingError(f"the drawing is too large ({len(encoded) * 3 // 4:,} bytes; "
                           f"at most {MAX_PNG_BYTES:,})")
    try:
        png = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise DrawingError("the drawing's data is damaged (not base64)") from None
    png_width, png_height = png_size(png)
    ratio = png_width / width
    if not (1 <= ratio <= MAX_PIXEL_RATIO and abs(png_height - height * ratio) <= 1):
        raise DrawingError(f"the drawing is {png_width} x {png_height} pixels, which does not fit a "
                           f"{width} x {height} canvas")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(png), formats=["PNG"]) as picture:
                picture.load()
                rgba = picture.convert("RGBA")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:
        raise DrawingError(f"the drawing cannot be decoded ({type(err).__name__})") from None
    if rgba.size != (png_width, png_height):
        raise DrawingError("the drawing's header does not match its pixels")
    return np.asarray(rgba)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header, without decoding it; DrawingError if it is not a PNG."""
    # Signature (8 bytes), then the IHDR chunk: length (4), type (4), width (4), height (4), ...
    if len(png) < 33 or not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise DrawingError("the drawing is not a PNG image")
    return struct.unpack(">II", png[16:24])


def data_url_from(value: object) -> object:
    """The picture inside the canvas component's value ({"drawing": {"data": ..., "raw": ...}}),
    or None while nothing is drawn. The value comes from the browser: any other shape is refused."""
    if value is None:
        return None
    try:
        drawing = value.get("drawing")
        return None if drawing is None else drawing.get("data")
    except (AttributeError, TypeError):
        raise DrawingError("the drawing arrived in an unexpected shape") from None
