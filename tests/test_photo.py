"""A photo of a digit on paper: checked before it is decoded, then read (mnistcore.photo).

The example photos in tests/data/ are synthetic (bench/photo_bench.py --save-examples): real MNIST
test digits rewritten with a pen on made-up paper, lit unevenly, photographed and saved as JPEG.
"""
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from mnistcore.nets import load_model
from mnistcore.photo import MAX_BYTES, NotPaper, PhotoError, photo_steps, read_photo

EXAMPLES = sorted((Path(__file__).parent / "data").glob("photo_*.jpg"))
NO_PAPER = sorted((Path(__file__).parent / "data" / "no_paper").glob("*.jpg"))   # a face, a person, a cat, a cup


@pytest.fixture(scope="module")
def model():
    return load_model()


def digit_of(path: Path) -> int:
    return int(path.stem.split("_")[1])     # photo_<digit>_<condition>.jpg


def answer(model, data: bytes) -> int | None:
    steps = photo_steps(read_photo(data))
    return None if steps is None else int(model.predict(steps.centred[None])[0])


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG made by hand: a header claiming width x height 8-bit grey pixels, and one small row of
    data. Decoding it would mean width * height bytes (20000 x 20000: 400 MB)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" + bytes(min(width, 1000)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def test_there_are_example_photos():
    assert len(EXAMPLES) >= 2 and all(path.stat().st_size < 60_000 for path in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_a_photo_of_a_digit_is_read_as_that_digit(path, model):
    grey = read_photo(path.read_bytes())
    assert grey.dtype == np.uint8 and grey.ndim == 2 and grey.shape == (480, 640)
    steps = photo_steps(grey)
    assert steps is not None
    assert steps.centred.shape == (28, 28) and steps.centred.dtype == np.float32
    assert int(model.predict(steps.centred[None])[0]) == digit_of(path)


def test_png_webp_and_other_kinds_of_pixels_are_read_too(model):
    path = EXAMPLES[0]
    picture = Image.open(path)
    sixteen_bit = Image.fromarray(np.asarray(picture.convert("L")).astype(np.uint16) * 257)
    for data in (encoded(picture, "PNG"), encoded(picture, "WEBP"), encoded(sixteen_bit, "PNG"),
                 encoded(picture.convert("CMYK"), "JPEG"), encoded(picture.convert("P"), "PNG")):
        assert answer(model, data) == digit_of(path)


def test_a_transparent_background_counts_as_paper(model):
    path = EXAMPLES[0]
    grey = np.asarray(Image.open(path).convert("L"))
    ink = np.clip((150 - grey.astype(int)) * 3, 0, 255).astype(np.uint8)   # dark strokes only
    rgba = np.zeros(grey.shape + (4,), np.uint8)                            # black, see-through...
    rgba[..., 3] = ink                                                      # ...but where the ink is
    assert answer(model, encoded(Image.fromarray(rgba), "PNG")) == digit_of(path)


def test_the_camera_s_orientation_is_honoured(model):
    path = EXAMPLES[0]
    upright = Image.open(path)
    lying = upright.transpose(Image.Transpose.ROTATE_90)        # as the sensor saw it...
    exif = Image.Exif()
    exif[0x0112] = 6                                            # ...and "turn me 90 degrees clockwise"
    with_tag = read_photo(encoded(lying, "JPEG", quality=90, exif=exif))
    assert with_tag.shape == (480, 640)
    assert np.abs(with_tag.astype(int) - read_photo(path.read_bytes())).mean() < 4
    assert read_photo(encoded(lying, "JPEG", quality=90)).shape == (640, 480)   # no tag: left lying
    assert answer(model, encoded(lying, "JPEG", quality=90, exif=exif)) == digit_of(path)


def test_blank_paper_is_no_digit():
    """Ruled paper lit from one side, a shadow, a table along the bottom, noise: nothing written."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:480, 0:640] / 640
    light = 0.85 - 0.35 * x
    light = light * (1 - 0.4 / (1 + np.exp(-(x + 0.5 * y - 0.7) / 0.02)))   # a shadow's soft edge
    ruled = np.where(np.abs((y - 0.05 * x) % 0.06 - 0.03) < 0.002, 0.8, 1.0)  # faint lines, a little askew
    photo = light * 0.95 * ruled
    photo[400:] = 0.25 + 0.03 * np.sin(x[400:] * 90)                        # the table
    photo = photo + rng.normal(0, 0.02, photo.shape)
    data = encoded(Image.fromarray(np.clip(photo * 255, 0, 255).astype(np.uint8)), "JPEG", quality=80)
    assert photo_steps(read_photo(data)) is None


@pytest.mark.parametrize("path", NO_PAPER, ids=lambda path: path.stem)
def test_a_photo_with_no_sheet_of_paper_is_refused_as_such(path):
    grey = read_photo(path.read_bytes())
    with pytest.raises(NotPaper, match="no sheet of paper") as refused:
        photo_steps(grey)
    assert refused.value.kind == "no_paper"
    # Bigger, turned round, darker: still no paper.
    big = Image.fromarray(grey).resize((grey.shape[1] * 2, grey.shape[0] * 2)).rotate(90, expand=True)
    with pytest.raises(NotPaper):
        photo_steps(np.asarray(big, np.float32) / 255 * 0.6)


def test_there_are_photos_with_no_paper_in_them():
    assert len(NO_PAPER) >= 4 and any("face" in path.stem for path in NO_PAPER)


def test_a_page_of_printed_text_is_refused_as_print():
    from bench import photo_bench

    for seed, condition in ((0, "plain"), (1, "uneven light"), (2, "shadow")):
        rng = np.random.default_rng(seed)
        data = photo_bench.make_photo(lambda box, s: photo_bench.printed_page(s), condition, rng)[0]
        with pytest.raises(NotPaper, match="page of writing or print") as refused:
            photo_steps(read_photo(data))
        assert refused.value.kind == "printed", condition


def test_a_kind_of_refusal_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="'blurry'"):
        NotPaper("blurry")


def test_camera_grain_along_ruled_lines_is_no_digit():
    """A blank ruled sheet, a pen on the table beside it (bench/photo_bench.py's "pen beside"): the
    camera's grain along the faint lines, chained into one region, is specks, not strokes."""
    data = (Path(__file__).parent / "data" / "blank_lined_with_pen.jpg").read_bytes()
    assert photo_steps(read_photo(data)) is None


def test_light_ink_on_a_dark_board_is_read(model):
    path = EXAMPLES[0]
    chalk = 255 - np.asarray(Image.open(path).convert("L"))
    assert answer(model, encoded(Image.fromarray(chalk), "JPEG", quality=85)) == digit_of(path)


@pytest.mark.parametrize("data, says", [
    (b"", "empty"),
    (b"hello, this is text\n", "not a JPEG, PNG or WebP"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n", "not a JPEG, PNG or WebP"),
    (b"GIF89a" + bytes(100), "not a JPEG, PNG or WebP"),
    (b"\xff\xd8\xff" + bytes(MAX_BYTES), "too large"),
    (b"\xff\xd8\xff\xe0" + bytes(60), "cannot be read"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(20), "cannot be read"),
])
def test_what_is_not_a_photo_is_refused_with_a_reason(data, says):
    with pytest.raises(PhotoError, match=says):
        read_photo(data)


def test_something_other_than_bytes_is_refused():
    for value in (None, "a photo", 42):
        with pytest.raises(PhotoError, match="did not arrive as a file"):
            read_photo(value)


def test_a_cut_short_photo_is_refused():
    data = EXAMPLES[0].read_bytes()
    for end in (len(data) // 2, len(data) - 400):
        with pytest.raises(PhotoError, match="damaged or cut short"):
            read_photo(data[:end])


@pytest.mark.parametrize("width, height, says", [
    (20000, 20000, r"far larger than any photo|20000 x 20000"),
    (6000, 4500, "6000 x 4500 pixels"),
    (7000, 100, "7000 x 100 pixels"),
    (640, 10, "at least 28 px"),
])
def test_a_header_claiming_too_many_pixels_is_refused_before_decoding(width, height, says, monkeypatch):
    def no_decoding(self):
        raise AssertionError("the picture was decoded")
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(PhotoError, match=says):
        read_photo(png_header(width, height))


def test_photo_steps_refuses_what_is_not_an_image():
    for bad in (np.zeros((10, 10)), np.zeros((100, 100, 2)), np.array([["a"] * 50] * 50)):
        with pytest.raises(ValueError):
            photo_steps(bad)
