"""A drawing as the browser sends it: checked before it is decoded (mnistcore.canvas)."""
import base64
import io

import numpy as np
import pytest
from PIL import Image

from mnistcore.canvas import MAX_PNG_BYTES, DrawingError, data_url_from, png_size, read_canvas_png
from test_hostile import png_bomb


def data_url(image: np.ndarray, format: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=format)
    kind = format.lower()
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.mark.parametrize("ratio", [1, 2, 3, 2.625])
def test_a_drawing_at_any_screen_pixel_ratio_is_read(ratio):
    side = round(280 * ratio)
    image = np.zeros((side, side, 4), np.uint8)
    image[..., 3] = 255
    image[side // 4 : side // 2, side // 3, :3] = 255
    rgba = read_canvas_png(data_url(image), 280, 280)
    assert rgba.shape == (side, side, 4) and rgba.dtype == np.uint8 and (rgba == image).all()


@pytest.mark.parametrize("url, says", [
    (None, "did not arrive as a PNG"), (42, "did not arrive as a PNG"), ("hello", "did not arrive as a PNG"),
    ("data:image/png;base64,%%%", "not base64"), ("data:image/png;base64,iVBORw0KGgo=", "not a PNG"),
    ("data:image/png;base64," + "A" * (MAX_PNG_BYTES * 2), "too large"),
])
def test_what_is_not_a_png_drawing_is_refused_with_a_reason(url, says):
    with pytest.raises(DrawingError, match=says):
        read_canvas_png(url, 280, 280)


def test_other_formats_and_other_sizes_are_refused():
    grey = np.zeros((280, 280), np.uint8)
    with pytest.raises(DrawingError, match="did not arrive as a PNG"):
        read_canvas_png(data_url(grey, "TIFF"), 280, 280)
    for shape in ((4, 4), (280, 560), (1400, 1400), (279, 279)):
        with pytest.raises(DrawingError, match="does not fit a 280 x 280 canvas"):
            read_canvas_png(data_url(np.zeros(shape, np.uint8)), 280, 280)


def test_a_bomb_is_refused_from_its_header_alone():
    bomb = png_bomb(12000)
    png = base64.b64decode(bomb.split(",", 1)[1])
    assert png_size(png) == (12000, 12000)
    with pytest.raises(DrawingError, match="12000 x 12000"):
        read_canvas_png(bomb, 280, 280)
    cut = base64.b64encode(png[:200]).decode("ascii")  # a right-sized header, then nothing
    lying = "data:image/png;base64," + base64.b64encode(png[:16] + (280).to_bytes(4, "big") * 2 + png[24:200]).decode()
    for url in ("data:image/png;base64," + cut, lying):
        with pytest.raises(DrawingError):
            read_canvas_png(url, 280, 280)


@pytest.mark.parametrize("value, found", [(None, None), ({"drawing": None}, None),
                                          ({"drawing": {"data": "x"}}, "x"), ({"drawing": {"raw": {}}}, None)])
def test_the_picture_is_found_in_the_components_value(value, found):
    assert data_url_from(value) == found


@pytest.mark.parametrize("value", [["a"], "text", 7, {"drawing": "text"}, {"drawing": [1]}])
def test_a_value_of_another_shape_is_refused(value):
    with pytest.raises(DrawingError, match="unexpected shape"):
        data_url_from(value)
