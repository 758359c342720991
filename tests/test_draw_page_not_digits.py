"""Draw, through AppTest, with what is not a digit: a letter, a heart, photos of a blank sheet with a pen
beside it, of a printed page and of a face; the visitor's "That is not a digit" and its "Take back my
answer"; and the drawings so answered, in their own group on Lab handwriting."""
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bench import photo_bench
from drawings import pen_shape
from mnistcore.explain.answer import PHOTO_MESSAGES
from mnistcore.lab.feedback import FeedbackStore
from mnistcore.lab.handwriting import HandwritingReports, NotDigits
from sitetools import drawing, private_site

NO_PAPER = Path(__file__).parent / "data" / "no_paper"


@pytest.fixture
def site(tmp_path, monkeypatch, small_mnist):
    """The site with private weights and lab database; returns (AppTest, database path)."""
    at, _, db = private_site(tmp_path, monkeypatch, small_mnist)
    return at, db


def run(at: AppTest, page: str | None = None) -> AppTest:
    (at.switch_page(page) if page else at).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("name", ["K", "heart"])
def test_a_drawn_letter_or_heart_gets_no_digit(site, name):
    at, _ = site
    run(at, "pages/draw.py")
    at.session_state["canvas"] = drawing((pen_shape(name, 200) * 255).astype(np.uint8))
    run(at)
    assert not at.header, name  # no "Prediction: 4"
    assert "does not look like a digit" in at.info[0].value, at.info[0].value
    assert "confirm" not in {b.key for b in at.button}  # nothing to confirm: no digit was read


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="upload").upload(name, data, "image/jpeg")
    return run(at)


def test_photos_of_no_digit_on_paper_are_refused_in_plain_words(site):
    at, _ = site
    run(at, "pages/draw.py")
    at.segmented_control(key="source").set_value("paper")
    run(at)
    rng = np.random.default_rng(2)  # a blank sheet in whose photo the pen alone would be read as a digit
    blank_with_pen = photo_bench.make_photo(lambda box, s: np.zeros((box, box), np.float32), "pen beside", rng)[0]
    upload(at, "pen.jpg", blank_with_pen)
    assert not at.header and "No digit found" in at.error[0].value
    printed = photo_bench.make_photo(lambda box, s: photo_bench.printed_page(s), "plain", np.random.default_rng(0))[0]
    upload(at, "page.jpg", printed)
    assert not at.header and at.error[0].value == PHOTO_MESSAGES["printed"]
    assert at.error[0].value.startswith("This looks like a page of printed text")
    upload(at, "face.jpg", (NO_PAPER / "face_astronaut.jpg").read_bytes())
    assert not at.header and at.error[0].value.startswith("I can't find a sheet of paper")
    # And a digit on paper is still read after them.
    upload(at, "digit.jpg", (Path(__file__).parent / "data" / "photo_7_table_edge.jpg").read_bytes())
    assert [h.value for h in at.header] == ["Prediction: 7"]


def test_that_is_not_a_digit_is_saved_taken_back_and_listed_on_lab_handwriting(site, mnist):
    """A drawing the model reads as a digit, which the visitor says is not one: like any label the
    model disagrees with, it waits for the lab's review before anything learns from it."""
    at, db = site
    run(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(mnist[1][0][0])
    run(at)
    at.button(key="not-a-digit").click()
    run(at)
    store = FeedbackStore(db)
    assert at.success[0].value.startswith("Saved: you said it is not a digit;")
    assert "the lab will check your answer" in at.success[0].value
    assert store.all().not_digit.tolist() == [True] and store.held_count() == 1
    take_back, = [b for b in at.button if b.key and b.key.startswith("undo-")]
    assert take_back.label == "Take back my answer"
    take_back.click()
    run(at)
    assert store.count() == 0 and at.button(key="not-a-digit")  # gone, and asked again
    at.button(key="not-a-digit").click()
    run(at)
    assert store.count() == 1 and len(store.not_digits()) == 0  # held, not yet learnt from

    run(at, "pages/handwriting.py")
    held, = [b for b in at.button if b.key and b.key.startswith("accept-")]
    assert any("Said **not a digit**" in m.value for m in at.markdown)
    held.click()
    run(at)
    assert len(store.not_digits()) == 1  # the lab agreed: listed and learnt from
    assert "No drawings yet" not in " ".join(i.value for i in at.info)
    assert [h.value for h in at.header][-2:] == ["That is not a digit", "Download"]
    assert any(c.value.startswith("1 drawing visitors said is not a digit") for c in at.caption)
    pictures = [image for image in at.image if image.proto.imgs and "not a digit" in (image.proto.imgs[0].alt or "")]
    assert len(pictures) == 1 and len(pictures[0].proto.imgs) == 1
    assert "CSV of these drawings" in [b.label for b in at.download_button]


def test_not_digits_are_counted_newest_first_and_their_csv_marks_them(tmp_path, mnist):
    (_, _), (x_test, y_test) = mnist
    store = FeedbackStore(tmp_path / "lab.db")
    for k in range(3):
        store.add(x_test[k], label=int(y_test[k]), predicted=int(y_test[k]), confidence=0.9, model="m",
                  raw_size=(280, 280), not_digit=True)
    store.add(x_test[5], label=int(y_test[5]), predicted=0, confidence=0.5, model="m", raw_size=(280, 280))
    reports = HandwritingReports(store)
    found = reports.not_digits()
    assert found.count == 3 and np.array_equal(found.images, x_test[[2, 1, 0]])  # newest first, the digit left out
    rows = found.csv().decode().splitlines()
    assert len(rows) == 3 and all(row.startswith("x,") and len(row.split(",")) == 785 for row in rows)
    assert [int(v) for v in rows[0].split(",")[1:]] == x_test[2].ravel().tolist()
    assert reports.not_digits() is found  # nothing changed: not read again
    store.add(x_test[6], label=0, predicted=0, confidence=0.5, model="m", raw_size=(280, 280), not_digit=True)
    assert reports.not_digits().count == 4
    assert NotDigits(0, np.zeros((0, 28, 28), np.uint8)).csv() == b""
