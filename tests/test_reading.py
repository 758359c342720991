"""What the Draw page shows of a drawing (mnistcore.explain.reading): read once, the pictures and
nearest images added later when the server is busy, and plain words for what cannot be read.

No Streamlit here: the page's own tests (test_pages.py, test_lab_pages.py) check what it shows.
"""
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistcore.explain import reading
from mnistcore.explain.reading import Reader, Reading, canvas_source, photo_source
from mnistcore.nets import load_model
from sitetools import FIRST_MLP, drawing

DATA = Path(__file__).resolve().parent / "data"
SIDE = 280


class Counting:
    """A model that counts the images it is asked about."""

    def __init__(self, model):
        self.model, self.asked, self.info = model, 0, model.info

    def predict_proba(self, images):
        self.asked += 1
        return self.model.predict_proba(images)


@pytest.fixture(scope="module")
def mlp():
    return load_model(FIRST_MLP)


class Nearest:
    """Stands in for the nearest-image finder: training images 0, 1, 2..., each a 7."""

    def __init__(self):
        self.asked = []

    def __call__(self, image, k):
        self.asked.append(image)
        return tuple((i, 7) for i in range(k))


@pytest.fixture
def reader(mlp):
    return Reader(Counting(mlp), "1:default", nearest=Nearest())


def canvas(image, side=SIDE):
    return canvas_source(drawing(image, side), SIDE)


def a_confident_digit(mlp, mnist):
    """(image, digit) of the first test image the model reads right, surely, after the canvas' steps."""
    (_, _), (x_test, y_test) = mnist
    for i in range(100):
        read = Reader(mlp, "m").read(canvas(x_test[i]), pictures=False)
        if read.answer is not None and read.answer.digit == y_test[i] and read.verdict.words == "sure":
            return x_test[i], int(y_test[i])
    raise AssertionError("no test image read surely")


def test_a_digit_is_read_with_its_pictures_and_nearest_images(reader, mlp, mnist):
    image, digit = a_confident_digit(mlp, mnist)
    source = canvas(image)
    read = reader.read(source)
    assert read.key == (source.name, "1:default") and read.problem is None
    assert read.verdict.kind == "digit" and read.verdict.headline == f"Prediction: {digit}"
    assert read.answer.digit == digit and read.verdict.digit == digit
    assert read.centred.shape == (28, 28) and read.centred.dtype == np.float32 and read.raw_size == (SIDE, SIDE)
    assert len(read.pictures) == 4 and all(p.startswith("data:image/png;base64,") for p in read.pictures)
    assert read.nearest == ((0, 7), (1, 7), (2, 7)) and not read.pictures_later and read.steps == ()
    assert np.array_equal(reader.nearest.asked[0], read.centred)  # the nearest images of what the model read


def test_one_drawing_is_worked_out_once(reader, mlp, mnist):
    image, _ = a_confident_digit(mlp, mnist)
    first = reader.read(canvas(image))
    assert reader.read(canvas(image), first) is first and reader.model.asked == 1
    other = reader.read(canvas(mnist[1][0][1]), first)  # another drawing is read afresh
    assert other.key != first.key and reader.model.asked == 2
    again = Reader(reader.model, "2:run.npz").read(canvas(image), first)  # another live model: read again
    assert again.key == (first.key[0], "2:run.npz") and reader.model.asked == 3


def test_a_busy_server_answers_first_and_adds_the_pictures_later(reader, mlp, mnist):
    image, digit = a_confident_digit(mlp, mnist)
    busy = reader.read(canvas(image), pictures=False)
    assert busy.answer.digit == digit and busy.pictures_later
    assert busy.pictures == () and busy.nearest == () and not reader.nearest.asked
    ink, cropped, _, centred = busy.steps  # kept small until their pictures are made
    assert max(ink.shape) <= reading.SHOWN and max(cropped.shape) <= reading.SHOWN and centred.shape == (28, 28)
    assert reader.read(canvas(image), busy, pictures=False) is busy  # still busy: nothing more
    later = reader.read(canvas(image), busy, pictures=True)
    assert not later.pictures_later and len(later.pictures) == 4 and len(later.nearest) == 3
    assert later.answer == busy.answer and reader.model.asked == 1  # not read again, only pictured


def test_a_phones_large_drawing_is_kept_small_while_its_pictures_wait(reader, mlp, mnist):
    image, _ = a_confident_digit(mlp, mnist)
    busy = reader.read(canvas(image, side=3 * SIDE), pictures=False)  # a phone sends its canvas at 3x
    assert busy.raw_size == (3 * SIDE, 3 * SIDE) and max(busy.steps[0].shape) <= reading.SHOWN


def test_a_blank_canvas_and_nothing_drawn(reader):
    assert canvas_source(None, SIDE) is None  # nothing drawn yet: nothing to read
    blank = reader.read(canvas(np.zeros((28, 28), np.uint8)))
    assert blank == Reading(blank.key) and blank.verdict is None and reader.model.asked == 0


def test_what_is_not_a_digit_gets_a_verdict_and_no_pictures(reader):
    line = np.zeros((28, 28), np.uint8)
    line[14, 3:25] = 255  # a straight line across
    read = reader.read(canvas(line))
    assert read.verdict.kind == "line" and "straight line" in read.verdict.message
    assert read.answer is None and read.pictures == () and read.steps == () and not read.pictures_later
    assert read.centred is not None and not reader.nearest.asked  # the Look inside page may still show it


@pytest.mark.parametrize("value, says", [
    ({"drawing": "not a dict"}, "cannot be read"),                      # not the canvas' kind of value
    (drawing(np.full((28, 28), 255, np.uint8), side=4), "4 x 4 pixels"),  # a PNG that does not fit the canvas
])
def test_a_drawing_that_cannot_be_read_says_why(reader, value, says):
    source = canvas_source(value, SIDE)
    read = reader.read(source)
    assert read.problem.startswith("This drawing cannot be read") and says in read.problem
    assert read.verdict is None and reader.model.asked == 0


def test_the_same_picture_has_the_same_name(mnist):
    x_test = mnist[1][0]
    assert canvas(x_test[0]).name == canvas(x_test[0]).name != canvas(x_test[1]).name
    assert canvas(x_test[0]).name.startswith("drawing:")


def test_a_photo_is_read_without_the_canvas_reference(mlp):
    def no_reference():
        raise AssertionError("the MNIST look-alike check is for canvas drawings only")

    reader = Reader(mlp, "m", reference=no_reference)
    photo = reader.read(photo_source("upload-1", (DATA / "photo_7_table_edge.jpg").read_bytes()))
    assert photo.key == ("photo:upload-1", "m") and photo.answer.digit == 7 and len(photo.pictures) == 4
    assert reader.read(photo_source("upload-2", b"%PDF-1.4 not a picture")).problem.startswith(
        "This picture cannot be read")
    buffer = io.BytesIO()
    Image.new("L", (640, 480), 200).save(buffer, format="JPEG")  # grey paper, nothing written on it
    assert reader.read(photo_source("upload-3", buffer.getvalue())).problem.startswith("No digit found")
