"""The site's pages through Streamlit's AppTest, and the page logic behind them (gallery, answer, pictures).

Each test points the site at its own copy of the weights (MNISTLAB_WEIGHTS_DIR), so nothing here
touches weights/ in the project.
"""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from drawings import pen_digit, pen_line, pen_number, pen_shape
from bench import photo_bench
from mnistcore.data import load_mnist
from mnistcore.explain import gallery, pictures
from mnistcore.explain.answer import judge_drawing, mnist_reference, read_answer
from mnistcore.lab.store import ModelStore
from mnistcore.nets import load_model
from mnistcore.preprocess import canvas_to_mnist, ink_steps
from mnistcore.training import LIMITS, recipes
from sitetools import APP, canvas_image, drawing, shown_html, tiny_model, weights_copy
from test_slot import FakeClock
from ui.resources import slot  # the very slot the pages use: AppTest runs them in this process

DATA = Path(__file__).resolve().parent / "data"  # photos for the photo path

# ---------------------------------------------------------------------------- gallery logic

LABELS = np.array([0, 1, 2, 3, 4, 4, 9, 9])
PREDICTIONS = np.array([0, 7, 2, 3, 9, 4, 4, 9])
CONFIDENCE = np.array([0.9, 0.5, 0.99, 0.8, 0.4, 0.95, 0.6, 0.7])


@pytest.mark.parametrize("flt, expected", [
    (gallery.GalleryFilter(), [0, 1, 2, 3, 4, 5, 6, 7]),
    (gallery.GalleryFilter(only_mistakes=True), [1, 4, 6]),
    (gallery.GalleryFilter(true_digit=4), [4, 5]),
    (gallery.GalleryFilter(predicted_digit=4), [5, 6]),
    (gallery.GalleryFilter(true_digit=4, predicted_digit=9), [4]),            # a confusion-matrix cell
    (gallery.GalleryFilter(true_digit=9, predicted_digit=9), [7]),            # a diagonal cell
    (gallery.GalleryFilter(only_mistakes=True, true_digit=9, predicted_digit=9), []),
    (gallery.GalleryFilter(least_sure_first=True), [4, 1, 6, 7, 3, 0, 5, 2]),
    (gallery.GalleryFilter(only_mistakes=True, least_sure_first=True), [4, 1, 6]),
])
def test_gallery_select(flt, expected):
    assert gallery.select(LABELS, PREDICTIONS, CONFIDENCE, flt).tolist() == expected


def test_gallery_least_sure_keeps_ties_in_test_set_order():
    same = np.full(5, 0.5)
    assert gallery.select(np.zeros(5, int), np.zeros(5, int), same,
                          gallery.GalleryFilter(least_sure_first=True)).tolist() == [0, 1, 2, 3, 4]


def test_gallery_refuses_bad_input():
    with pytest.raises(ValueError, match="digit 0-9"):
        gallery.select(LABELS, PREDICTIONS, CONFIDENCE, gallery.GalleryFilter(true_digit=10))
    with pytest.raises(ValueError, match="equal-length"):
        gallery.select(LABELS, PREDICTIONS[:3], CONFIDENCE)


def test_gallery_pages():
    indices = np.arange(100)
    assert gallery.page_count(100, 48) == 3 and gallery.page_count(0, 48) == 1 and gallery.page_count(48, 48) == 1
    assert gallery.page(indices, 1, 48).tolist() == list(range(48))
    assert gallery.page(indices, 3, 48).tolist() == list(range(96, 100))
    assert gallery.page(np.arange(0), 1, 48).tolist() == []
    with pytest.raises(ValueError, match="from 1 to 3"):
        gallery.page(indices, 4, 48)
    with pytest.raises(ValueError, match="page size"):
        gallery.page_count(10, 0)


def test_gallery_captions_and_tiles():
    assert gallery.caption(7, 7, 0.987) == "7 (99%)"
    assert gallery.caption(7, 7, 0.9996) == "7 (99%)" and gallery.percent(1.0) == "99%"  # never "100%"
    assert gallery.caption(9, 4, 0.61) == "✗ 4, is 9 (61%)"
    assert gallery.captions(LABELS, PREDICTIONS, CONFIDENCE, [4, 5]) == ["✗ 9, is 4 (40%)", "4 (95%)"]
    assert gallery.mistakes(LABELS, PREDICTIONS).tolist() == [False, True, False, False, True, False, True, False]
    images = np.zeros((2, 28, 28), np.uint8)
    images[:, 10:18, 10:18] = 255
    right, wrong = pictures.tiles(images, np.array([False, True]), scale=3)
    assert right.shape == wrong.shape == (84 + 2 * pictures.FRAME,) * 2 + (3,)
    assert tuple(wrong[0, 0]) == pictures.MISTAKE_RED and tuple(right[0, 0]) == (0, 0, 0)
    inside = (slice(pictures.FRAME, -pictures.FRAME), slice(pictures.FRAME, -pictures.FRAME))
    assert (wrong[inside] == right[inside]).all()
    assert pictures.enlarge(np.ones((20, 20), np.float32), 140).shape == (140, 140)
    assert pictures.enlarge(np.ones((280, 280)), 140).shape == (280, 280)
    tall = pictures.square(np.ones((20, 10), np.float32), 140)
    assert tall.shape == (140, 140) and tall[:, :35].max() == 0 and tall[:, 35:105].min() == 255
    phone = pictures.shrink(np.full((840, 600), 0.5, np.float32), 140)  # a phone's drawing, 3 times the canvas
    assert phone.shape == (140, 100) and phone.dtype == np.uint8 and (phone == 128).all()
    assert pictures.shrink(np.ones((28, 28), np.float32), 140).shape == (28, 28)  # small ones stay as they are


def test_answer_is_plain_about_doubt():
    sure = read_answer(np.eye(10)[7] * 0.9 + 0.01)
    assert sure.headline == "Prediction: 7" and sure.sure and sure.doubt is None
    torn = np.full(10, 0.02)
    torn[4], torn[9] = 0.45, 0.39
    doubtful = read_answer(torn[None, :])
    assert doubtful.headline == "Prediction: 4" and doubtful.doubt == "not sure: 4 or 9?"
    close = np.full(10, 0.0)
    close[3], close[5] = 0.62, 0.35
    assert read_answer(close).doubt == "not sure: 3 or 5?"  # sure enough, but too close to call
    with pytest.raises(ValueError, match="10 finite"):
        read_answer(np.ones(9) / 9)


# ---------------------------------------------------------------------------- the pages


@pytest.fixture
def site(tmp_path, monkeypatch, small_mnist):
    """The site, pointed at a private copy of the weights; returns (AppTest, weights folder)."""
    folder = weights_copy(tmp_path / "weights", small_mnist)
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("MNISTLAB_TRAIN_LIMIT", "1000")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at, folder


def visit(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def banner(at: AppTest) -> str:
    """The live-model banner: its words, and the technical detail in its help."""
    return next(f"{c.value} {c.proto.help}" for c in at.caption if "Live model" in c.value)


@pytest.mark.parametrize("page, title", [("pages/home.py", "MNIST Lab"), ("pages/train.py", "Train a network"),
                                         ("pages/gallery.py", "Gallery"), ("pages/draw.py", "Draw a digit")])
def test_every_page_renders_and_names_the_live_model(site, page, title):
    at, folder = site
    visit(at, page)
    assert at.title[0].value == title
    assert "Live model" in banner(at) and "test accuracy" in banner(at)
    assert not at.error and not at.warning


def test_home_links_to_every_page(site):
    at, _ = site
    visit(at, "pages/home.py")
    links = [link.proto.page for link in at.get("page_link")]
    pages = {"train", "gallery", "draw", "handwriting", "inside"}
    assert pages <= {link.rstrip("/").split("/")[-1] for link in links}, links
    # One obvious way in: the big button goes straight to Draw.
    at.button(key="start_drawing").click().run()
    assert at.title[0].value == "Draw a digit" and "Draw a digit (0 to 9)" in at.info[0].value


def test_every_page_shows_the_store_warning(site, tmp_path, monkeypatch, small_mnist):
    at, _ = site
    folder = weights_copy(tmp_path / "damaged", small_mnist)  # a new folder: the store is made afresh
    (folder / "live.json").write_text("{damaged")
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(folder))
    for page in ("pages/home.py", "pages/train.py", "pages/gallery.py", "pages/draw.py"):
        visit(at, page)
        assert any("could not be loaded" in w.value for w in at.warning), page


@pytest.mark.parametrize("damage", ["damaged run file", "missing run file", "empty live.json"])
def test_a_damaged_weights_folder_falls_back_to_the_default_and_still_predicts(site, tmp_path, monkeypatch,
                                                                              small_mnist, mnist, damage):
    at, _ = site
    folder = weights_copy(tmp_path / "damaged", small_mnist)
    name = ModelStore(folder).publish(tiny_model(small_mnist)).name  # live.json names this run
    if damage == "damaged run file":
        (folder / "runs" / name).write_bytes(b"PK\x03\x04 cut short")
    elif damage == "missing run file":
        (folder / "runs" / name).unlink()
    else:
        (folder / "live.json").write_bytes(b"")
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(folder))
    visit(at, "pages/draw.py")
    assert any("could not be loaded" in w.value and "shipped default model is live instead" in w.value
               for w in at.warning)
    assert "the shipped model" in banner(at)
    (_, _), (x_test, y_test) = mnist
    at.session_state["canvas"] = drawing(x_test[0])
    at.run()
    assert [h.value for h in at.header] == [f"Prediction: {y_test[0]}"]  # the default reads it


def test_without_any_usable_model_the_pages_say_what_to_do(site, tmp_path, monkeypatch, small_mnist):
    at, _ = site
    folder = weights_copy(tmp_path / "broken", small_mnist)
    (folder / "default.npz").write_bytes(b"not a model")
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(folder))
    for page in ("pages/draw.py", "pages/gallery.py"):
        visit(at, page)
        assert any("No model could be loaded" in w.value for w in at.warning), page
        assert "No model is live" in at.error[0].value and not at.header and not at.image, page
    visit(at, "pages/train.py")
    assert [b for b in at.button if b.label == "Start training"]  # training can repair it


def test_train_publish_and_go_back(site, monkeypatch):
    """Train a tiny NumPy model on 1,000 images, publish it (it is worse than the shipped model, so
    only once that is confirmed), see it live, then go back to the default (no question: it is better)."""
    at, folder = site
    monkeypatch.setattr("ui.visitor.client", lambda: "127.0.0.1")  # AppTest's st.context is a mock
    visit(at, "pages/train.py")
    assert "Test mode" in " ".join(c.value for c in at.caption)
    assert "Estimated time" in at.info[0].value
    at.number_input(key="epochs").set_value(2)
    at.number_input(key="hidden").set_value(32)
    at.text_input(key="owner").input("Ada")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert slot().wait(60)
    at.run()
    assert "Your model" in [s.value for s in at.header]
    assert not at.success and "Test accuracy" in at.error[0].value and "worse than the live model" in at.error[0].value
    next(c for c in at.checkbox if c.key == "publish-confirm").check().run()
    next(b for b in at.button if b.label == "Publish anyway").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Published: it is the live model now" in s.value for s in at.success)
    name = json.loads((folder / "live.json").read_text())["live"]
    assert (folder / "runs" / name).is_file()
    assert "784-32-10" in banner(at) and load_model(folder / "runs" / name).info.epochs == 2
    # The earlier models list offers the best one first: the shipped default, better, so no question.
    assert at.selectbox(key="revert").value == "default"
    next(b for b in at.button if b.label == "Make live").click().run()
    assert json.loads((folder / "live.json").read_text())["live"] == "default"
    assert "the shipped model" in banner(at)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def start_long_run(at: AppTest, name: str = "Ada") -> None:
    """Start a run far too long to end during the test: 30 epochs of 5,000 single-image steps."""
    visit(at, "pages/train.py")
    # (small steps: the run must neither end nor blow up and stop itself during the test)
    for key, value in (("epochs", 30), ("batch_size", 1), ("hidden", 16), ("learning_rate", 0.01)):
        at.number_input(key=key).set_value(value)
    at.text_input(key="owner").input(name)
    button(at, "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Your model is training" in [s.value for s in at.header]


def test_one_run_at_a_time_a_queue_and_stop_leaves_the_live_model(site, monkeypatch):
    at, folder = site
    monkeypatch.setattr("ui.visitor.client", lambda: "127.0.0.1")  # AppTest's st.context is a mock
    monkeypatch.setenv("MNISTLAB_TRAIN_LIMIT", "5000")
    start_long_run(at, "Ada")
    # Another visitor sees who is training, cannot start a second run, and may join the queue.
    other = AppTest.from_file(str(APP), default_timeout=60)
    other.run()
    visit(other, "pages/train.py")
    assert any("Ada is training" in i.value for i in other.info)
    assert "Ada's model is training" in [s.value for s in other.header]
    assert not [b for b in other.button if b.label in ("Start training", "Stop")]
    other.number_input(key="epochs").set_value(1)
    other.number_input(key="hidden").set_value(16)
    other.text_input(key="owner").input("Grace")
    button(other, "Join the queue").click().run()
    assert any("You are number 1 in the queue" in i.value for i in other.info)
    button(other, "Leave the queue").click().run()  # changing one's mind, then back in line
    assert not slot().queue() and [b for b in other.button if b.label == "Join the queue"]
    button(other, "Join the queue").click().run()
    at.run()
    assert any("1. Grace: NumPy" in m.value for m in at.markdown)  # Ada sees who waits
    # Ada stops her run: the live model stays as it was, and Grace's run starts by itself.
    button(at, "Stop").click().run()
    assert slot().wait(60)
    at.run()
    assert any("You stopped the run" in w.value for w in at.warning)
    assert not (folder / "live.json").exists() and "the shipped model" in banner(at)
    assert not [b for b in at.button if b.label.startswith("Publish")]
    assert [b for b in at.button if b.label == "Start training"]
    other.run()
    assert slot().status().label == "Grace" and slot().status().state == "finished"
    assert "Your model" in [s.value for s in other.header]
    assert "Test accuracy" in other.error[0].value  # a 16-unit, 1-epoch model: worse than the live one, so red
    assert [b for b in other.button if b.label == "Publish anyway"]


def test_a_run_lives_while_its_tab_is_open_and_stops_when_it_closes(site, monkeypatch):
    """The Train page, and every other page while one's model trains, tell the slot the tab is open."""
    at, folder = site
    monkeypatch.setattr("ui.visitor.client", lambda: "127.0.0.1")  # AppTest's st.context is a mock
    monkeypatch.setenv("MNISTLAB_TRAIN_LIMIT", "5000")
    clock = FakeClock()
    monkeypatch.setattr(slot(), "_clock", clock)  # the site's own slot, on a clock the test moves
    start_long_run(at, "Ada")
    job = slot().status().run_id
    for page in ("pages/gallery.py", "pages/draw.py", "pages/train.py", "pages/home.py"):
        clock.advance(0.8 * slot().heartbeat_timeout)  # more than the timeout in all, but heard in between
        visit(at, page)
        assert slot().status().run_id == job and slot().status().running, page
        if page != "pages/train.py":
            assert any("Your model is training" in c.value for c in at.caption), page
    clock.advance(slot().heartbeat_timeout + 1)  # Ada closed her tab: no word from it since
    other = AppTest.from_file(str(APP), default_timeout=60)
    other.run()
    visit(other, "pages/train.py")  # any look at the slot notices; the run stops at its next batch
    assert slot().wait(60)
    assert slot().status(job).state == "stopped" and "page was closed" in slot().status(job).note
    assert not (folder / "live.json").exists()
    other.run()
    assert [b for b in other.button if b.label == "Start training"]


def test_train_widgets_carry_the_limits(site):
    at, _ = site
    visit(at, "pages/train.py")
    for name in ("epochs", "batch_size", "hidden", "learning_rate", "momentum"):
        widget = at.number_input(key=name)
        low, high = LIMITS[name]
        assert (widget.min, widget.max) == (low, high) and f"({low:g} to {high:g})" in widget.label
        assert widget.value == getattr(recipes()["best"].settings, name)  # the recipe offered first
    at.session_state["batch_size"] = 5000  # out of range: the widget will not take it
    at.run()
    assert at.number_input(key="batch_size").value <= 1024 and not at.exception


def test_gallery_filters_show_exactly_the_asked_for_images(site, mnist):
    at, folder = site
    (_, _), (x_test, y_test) = mnist
    model = load_model(folder / "default.npz")
    predictions = model.predict(x_test)
    visit(at, "pages/gallery.py")
    assert f"{np.mean(predictions == y_test):.2%}" == at.metric[0].value
    assert len(at.image[0].captions) == 48  # the first page of all 10,000
    # The confusion-matrix cell "true 4, predicted 9", least sure first.
    at.checkbox(key="only_mistakes").check()
    at.selectbox(key="true_digit").set_value(4)
    at.selectbox(key="predicted_digit").set_value(9)
    at.checkbox(key="least_sure").check()
    at.run()
    expected = np.flatnonzero((y_test == 4) & (predictions == 9))
    assert f"{len(expected):,}" in [m.value for m in at.metric]
    if len(expected) == 0:
        assert "No test image matches" in at.info[0].value
        return
    captions = at.image[0].captions
    assert len(captions) == min(len(expected), 48)
    assert all(c.startswith("✗ 9, is 4") for c in captions)


def test_gallery_pages_through_the_mistakes(site, mnist):
    at, folder = site
    (_, _), (x_test, y_test) = mnist
    mistakes = int(np.sum(load_model(folder / "default.npz").predict(x_test) != y_test))
    visit(at, "pages/gallery.py")
    at.checkbox(key="only_mistakes").check().run()
    pages = -(-mistakes // 48)
    if pages > 1:
        at.get("pagination")[0].set_value(pages).run()
        assert len(at.image[0].captions) == mistakes - 48 * (pages - 1)
    assert all(c.startswith("✗") for c in at.image[0].captions)


def test_draw_reads_a_real_digit(site, mnist):
    at, folder = site
    (_, _), (x_test, y_test) = mnist
    model = load_model(folder / "default.npz")
    # Four different digits the live model reads confidently even after the canvas' preprocessing.
    chosen = {}
    for i in range(200):
        image = canvas_to_mnist(canvas_image(x_test[i]))
        proba = model.predict_proba(image)[0]
        if proba.argmax() == y_test[i] and proba.max() > 0.95:
            chosen.setdefault(int(y_test[i]), i)
        if len(chosen) == 4:
            break
    assert len(chosen) == 4, chosen
    visit(at, "pages/draw.py")
    assert "Draw a digit" in at.info[0].value and not at.header  # a blank canvas: a hint, no prediction
    for digit, i in sorted(chosen.items()):
        at.session_state["canvas"] = drawing(x_test[i])
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert [h.value for h in at.header] == [f"Prediction: {digit}"]
        steps = shown_html(at, "What the model sees")
        assert len(steps) == 1 and steps[0].count("<figure") == 4  # the preprocessing steps are shown


def test_draw_says_when_it_is_guessing_and_never_100_percent(site, mnist):
    at, folder = site
    (_, _), (x_test, _) = mnist
    model, reference = load_model(folder / "default.npz"), mnist_reference()
    least_sure = np.argsort(model.predict_proba(x_test).max(axis=1))[:300]
    for i in least_sure:  # one the page reads, but only as a guess
        steps = ink_steps(canvas_image(x_test[i]))
        verdict = judge_drawing(steps, model.predict_proba(steps.centred)[0], reference=reference)
        if verdict.kind == "digit" and verdict.words.startswith("guessing"):
            break
    else:
        pytest.skip("the live model is sure of every digit tried")
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(x_test[i])
    at.run()
    assert [h.value for h in at.header] == [verdict.headline]
    assert any(verdict.words in w.value for w in at.warning)
    assert not any("100%" in e.value for e in [*at.caption, *at.warning])


@pytest.mark.parametrize("what, ink, says", [
    ("too small", lambda: pen_digit(load_mnist()[1][0][0], 60, 100, 100), "Draw it bigger"),
    ("a letter", lambda: pen_shape("K", 200), "does not look like a digit"),
    ("a heart", lambda: pen_shape("heart", 200), "does not look like a digit"),
    ("a star", lambda: pen_shape("star", 220), "does not look like a digit"),
    ("a line", lambda: pen_line(200, 0), "line"),
    ("two digits", lambda: pen_number(load_mnist()[1][0][1], load_mnist()[1][0][2]), "two digits"),
])
def test_draw_says_plainly_what_is_not_a_digit(site, what, ink, says):
    at, _ = site
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing((ink() * 255).astype(np.uint8))
    at.run()
    assert not at.header and not at.exception, what  # no confident digit
    assert says in at.info[0].value, (what, at.info[0].value)


def test_draw_says_draw_on_a_blank_or_dotted_canvas(site):
    at, _ = site
    visit(at, "pages/draw.py")
    y, x = np.ogrid[:280, :280]
    dot = (((y - 140) ** 2 + (x - 140) ** 2) <= 11 ** 2).astype(np.uint8) * 255  # one tap of a 22-px pen
    for image in (np.zeros((28, 28), np.uint8), dot):
        at.session_state["canvas"] = drawing(image)
        at.run()
        assert not at.header and "Draw a digit" in at.info[0].value


def test_draw_explains_a_drawing_it_cannot_read(site):
    at, _ = site
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(np.full((28, 28), 255, np.uint8), side=4)  # a 4x4 "canvas"
    at.run()
    assert not at.exception and not at.header
    assert "cannot be read" in at.error[0].value and "4 x 4 pixels" in at.error[0].value


def test_without_mnist_the_pages_say_what_to_do(site, tmp_path, monkeypatch):
    at, _ = site
    import mnistcore.data

    def offline(folder, report=None, timeout=5.0):
        raise mnistcore.data.MnistUnavailable("Could not download MNIST. Tried: (nothing: offline)")

    monkeypatch.setattr(mnistcore.data, "fetch_mnist", offline)
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "no-mnist-here"))
    visit(at, "pages/gallery.py")
    assert "MNIST could not be downloaded" in at.error[0].value and "offline" in at.error[0].value
    assert not at.image


def test_draw_clear_gives_an_empty_canvas(site, mnist):
    at, _ = site
    (_, _), (x_test, _) = mnist
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(x_test[0])
    at.run()
    assert at.header
    # The canvas' own Clear empties it in the browser and sends the empty (black) picture.
    at.session_state["canvas"] = drawing(np.zeros((28, 28), np.uint8))
    at.run()
    assert not at.header and "Draw a digit" in at.info[0].value


def test_no_page_imports_tensorflow(tmp_path, small_mnist):
    """TensorFlow takes seconds to import: only a Keras model being built or loaded may do it.

    In a fresh process, since other tests in this one may have imported it already.
    """
    folder = weights_copy(tmp_path / "weights", small_mnist)
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(APP)!r}, default_timeout=60)
at.run()
for page in ("pages/train.py", "pages/gallery.py", "pages/draw.py"):
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
at.switch_page("pages/train.py").run()
at.radio(key="engine").set_value("keras").run()  # choosing Keras shows an estimate, no import yet
assert not at.exception, [e.value for e in at.exception]
print(sorted(name for name in ("tensorflow", "keras", "mnistcore.nets.keras_net") if name in sys.modules))
"""
    env = {**os.environ, "MNISTLAB_WEIGHTS_DIR": str(folder), "PYTHONPATH": str(APP.parent)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=APP.parent, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_draw_reads_a_digit_on_paper_from_a_photo(site):
    """The photo path with a real JPEG (a synthetic phone photo: paper, shadow, a table edge)."""
    at, _ = site
    visit(at, "pages/draw.py")
    at.segmented_control(key="source").set_value("paper").run()
    assert "take a photo" in at.info[0].value and at.camera_input
    photo = (DATA / "photo_7_table_edge.jpg").read_bytes()
    at.file_uploader(key="upload").upload("digit.jpg", photo, "image/jpeg").run()
    assert not at.exception and [h.value for h in at.header] == ["Prediction: 7"]
    assert shown_html(at, "What the model sees")
    at.file_uploader(key="upload").upload("notes.jpg", b"%PDF-1.4 not a picture", "image/jpeg").run()
    assert not at.header and "cannot be read" in at.error[0].value
    blank = Image.new("L", (640, 480), 200)  # grey paper, nothing written on it
    buffer = io.BytesIO()
    blank.save(buffer, format="JPEG")
    at.file_uploader(key="upload").upload("blank.jpg", buffer.getvalue(), "image/jpeg").run()
    assert not at.header and "No digit found" in at.error[0].value
    # A blank sheet on a table with a pen lying beside it: the pen is not on the paper, so not read.
    rng = np.random.default_rng(2)  # a photo in which the pen alone would be read as a digit
    blank_with_pen = photo_bench.make_photo(lambda box, s: np.zeros((box, box), np.float32), "pen beside", rng)[0]
    at.file_uploader(key="upload").upload("pen.jpg", blank_with_pen, "image/jpeg").run()
    assert not at.header and "No digit found" in at.error[0].value
