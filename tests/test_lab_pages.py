"""The lab pages through AppTest: Draw's "Was I right?", Lab handwriting, Look inside, comparing models.

Each test points the site at its own copy of the weights (MNISTLAB_WEIGHTS_DIR) and its own lab
drawings database (MNISTLAB_FEEDBACK_DB), so nothing here touches weights/ or data/lab.db.
"""
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, fields as dataclass_fields

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnistcore.lab import compare, handwriting, services
from mnistcore.lab.feedback import FeedbackStore, UndoRefused
from mnistcore.lab.handwriting import HandwritingReports
from mnistcore.evaluation import evaluate
from mnistcore.nets import load_model
from mnistcore.nets.base import ModelFileError, ModelInfo
from mnistcore.lab.store import RunEntry
from mnistcore.preprocess import canvas_to_mnist
from ui.resources import READS
from sitetools import APP, canvas_image, drawing, private_site, shown_html, tiny_model, weights_copy

RUN_NAME = "{day}T120000Z-{engine}-0123abcd.{suffix}"  # what the model store calls a saved run


# ---------------------------------------------------------------------------- the logic behind the pages


def test_handwriting_report(tmp_path, small_mnist):
    (_, _), (x_test, y_test) = small_mnist
    model = tiny_model(small_mnist)
    store = FeedbackStore(tmp_path / "lab.db")
    for image, label in zip(x_test[:40], y_test[:40]):
        store.add(image, label=int(label), predicted=int(label) if label != 1 else 7, confidence=0.5,
                  model="m", raw_size=(280, 280))
    report = handwriting.report(model, store.all())
    predictions = model.predict(x_test[:40])
    assert report.evaluation.accuracy == pytest.approx(np.mean(predictions == y_test[:40]))
    assert report.mistakes.tolist() == (predictions != y_test[:40]).tolist()
    assert report.accuracy_then == pytest.approx(np.mean(y_test[:40] != 1))
    on_mnist = evaluate(model, x_test, y_test)
    table = handwriting.per_digit(report, on_mnist)
    assert table["drawings"] == np.bincount(y_test[:40], minlength=10).tolist()
    assert table["MNIST test accuracy"] == pytest.approx(on_mnist.per_digit.tolist())
    with pytest.raises(ValueError, match="no lab drawings yet"):
        handwriting.report(model, FeedbackStore(tmp_path / "empty.db").all())


class Counting:
    """A model that counts the drawings it is asked to read, call by call."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def predict_proba(self, images):
        self.calls.append(len(images))
        return self.model.predict_proba(images)


def fill(store: FeedbackStore, images, labels) -> None:
    for image, label in zip(images, labels):
        store.add(image, label=int(label), predicted=int(label), confidence=0.5, model="m", raw_size=(280, 280))


def same_report(got: handwriting.HandwritingReport, want: handwriting.HandwritingReport) -> bool:
    return (got.ids.tolist() == want.ids.tolist() and got.labels.tolist() == want.labels.tolist()
            and got.evaluation.predictions.tolist() == want.evaluation.predictions.tolist()
            and got.evaluation.accuracy == pytest.approx(want.evaluation.accuracy)
            and got.counts.tolist() == want.counts.tolist())


def test_the_report_is_worked_out_once_per_model_and_collection(tmp_path, small_mnist):
    (_, _), (x_test, y_test) = small_mnist
    store = FeedbackStore(tmp_path / "lab.db")
    model = Counting(tiny_model(small_mnist))
    reports = HandwritingReports(store, chunk=5)
    assert len(reports.report("1:default", model)) == 0 and model.calls == []  # nothing to read yet

    fill(store, x_test[:12], y_test[:12])
    first = reports.report("1:default", model)
    assert model.calls == [5, 5, 2]  # every drawing, a chunk at a time
    assert same_report(first, handwriting.report(model.model, store.all()))
    assert reports.report("1:default", model) is first and model.calls == [5, 5, 2]  # the next view: nothing read

    fill(store, x_test[12:13], y_test[12:13])  # a new drawing: only it is read
    second = reports.report("1:default", model)
    assert model.calls == [5, 5, 2, 1] and len(second) == 13
    assert same_report(second, handwriting.report(model.model, store.all()))

    model.calls.clear()  # a new live model: every drawing again
    other = Counting(tiny_model(small_mnist, hidden=24, seed=1))
    third = reports.report("2:run", other)
    assert other.calls == [5, 5, 3] and model.calls == []
    assert same_report(third, handwriting.report(other.model, store.all()))
    # A view still running with the model live a moment ago finds its report kept.
    assert reports.report("1:default", model) is second and model.calls == []


def test_the_report_catches_up_when_drawings_went_missing(tmp_path, small_mnist):
    (_, _), (x_test, y_test) = small_mnist
    store = FeedbackStore(tmp_path / "lab.db")
    fill(store, x_test[:6], y_test[:6])
    model = Counting(tiny_model(small_mnist))
    reports = HandwritingReports(store)
    reports.report("1:default", model)
    with sqlite3.connect(store.path) as db:  # someone deletes a drawing by hand...
        db.execute("DELETE FROM drawings WHERE id = (SELECT MIN(id) FROM drawings)")
    fill(store, x_test[6:7], y_test[6:7])  # ...and one more comes: six again, but not the same six
    after = reports.report("1:default", model)
    assert model.calls == [6, 1]  # the gone one dropped, only the new one read
    assert same_report(after, handwriting.report(model.model, store.all()))
    assert after.ids.tolist() == store.all().ids.tolist() and len(after) == 6


def test_the_report_follows_undos_and_reviews_without_reading_again(tmp_path, small_mnist):
    (_, _), (x_test, y_test) = small_mnist
    store = FeedbackStore(tmp_path / "lab.db")
    fill(store, x_test[:8], y_test[:8])
    held = store.add(x_test[8], label=(int(y_test[8]) + 1) % 10, predicted=int(y_test[8]), confidence=0.99, model="m",
                     raw_size=(280, 280), probabilities=np.eye(10)[y_test[8]])
    mine = store.add(x_test[9], label=int(y_test[9]), predicted=0, confidence=0.5, model="m", raw_size=(280, 280),
                     visitor="a1b2c3d4e5f6a7b8")
    model = Counting(tiny_model(small_mnist))
    reports = HandwritingReports(store)
    first = reports.report("1:default", model)
    assert (len(first), first.collected, first.held) == (9, 10, 1) and held not in first.ids
    assert first.evaluation.count == 9  # the held label is not one of the model's mistakes

    store.undo(mine, "a1b2c3d4e5f6a7b8")
    store.review([held], "accepted")
    after = reports.report("1:default", model)
    assert model.calls == [10]  # nothing read again: the undo dropped one, the review changed a status
    assert (len(after), after.collected, after.held) == (9, 9, 0) and held in after.ids and mine not in after.ids
    assert same_report(after, handwriting.report(model.model, store.all()))

    measured_later = reports.report("1:default", model, trained_up_to=5)  # a model that trained on ids 1-5
    assert measured_later.ids.tolist() == [i for i in store.all().ids.tolist() if i > 5]
    assert measured_later.trained_on == 5 and model.calls == [10]


def test_visitors_asking_at_once_share_one_reading(tmp_path, small_mnist):
    (_, _), (x_test, y_test) = small_mnist
    store = FeedbackStore(tmp_path / "lab.db")
    fill(store, x_test[:20], y_test[:20])
    model = Counting(tiny_model(small_mnist))
    reports = HandwritingReports(store, chunk=8)
    got = []
    threads = [threading.Thread(target=lambda: got.append(reports.report("1:default", model))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert model.calls == [8, 8, 4] and all(r is got[0] for r in got)


def test_compare_every_saved_model(small_mnist):
    (_, _), (x_test, _) = small_mnist
    models = {"a": tiny_model(small_mnist, seed=0), "b": tiny_model(small_mnist, hidden=24, seed=1)}

    def load(name):
        if name == "broken":
            raise ModelFileError("broken.npz: the file is empty")
        return models[name]

    entries = [RunEntry("a", models["a"].info, None, live=True), RunEntry("broken", models["a"].info, None, False),
               RunEntry("gone", None, "gone.npz: no such model file", False),
               RunEntry("b", models["b"].info, None, False)]
    verdicts = compare.compare(x_test[0], entries, load)
    assert [v.name for v in verdicts] == ["a", "broken", "gone", "b"]
    assert verdicts[0].answer.digit == models["a"].predict(x_test[:1])[0] and verdicts[0].live
    assert verdicts[1].answer is None and "empty" in verdicts[1].error
    assert verdicts[2].error == "gone.npz: no such model file"
    table = compare.table(verdicts)
    assert table["answer"][1] == "— broken.npz: the file is empty" and table["probability"][2] is None
    assert table["model"][3] == "numpy 784-24-10 relu/softmax" and table["trained"][3].startswith("20")
    assert table["model"][2] == "gone" and table["test accuracy"][2] is None
    assert table["model"][0] == "numpy 784-16-10 relu/softmax (live)"
    assert compare.describe_run("b", models["b"].info).startswith(
        "numpy 784-24-10 relu/softmax, 1 epoch, untested, trained 20")
    assert compare.describe_run("default", load_model().info).endswith(", shipped default")


# ---------------------------------------------------------------------------- the pages


@pytest.fixture
def site(tmp_path, monkeypatch, small_mnist):
    """The site with private weights and lab database; returns (AppTest, weights folder, database path)."""
    return private_site(tmp_path, monkeypatch, small_mnist)


def visit(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def rerun(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def confident_digits(model, x, y, count: int) -> list[int]:
    """Indices of `count` images of different digits the model reads right, even after the canvas."""
    chosen = {}
    for i in range(len(x)):
        proba = model.predict_proba(canvas_to_mnist(canvas_image(x[i])))[0]
        if proba.argmax() == y[i] and proba.max() > 0.95:
            chosen.setdefault(int(y[i]), i)
        if len(chosen) == count:
            return list(chosen.values())
    raise AssertionError(f"found only {chosen}")


def test_draw_asks_and_stores_the_visitors_digit_once(site, mnist):
    at, folder, db = site
    (_, _), (x_test, y_test) = mnist
    first, second = confident_digits(load_model(folder / "default.npz"), x_test, y_test, 2)
    said = int(y_test[first])
    wrong = (said + 1) % 10  # the visitor says the model was wrong

    visit(at, "pages/draw.py")
    assert not shown_html(at, "Was I right?")  # no drawing, no question
    at.session_state["canvas"] = drawing(x_test[first])
    rerun(at)
    assert shown_html(at, "Was I right?")
    assert at.button(key="confirm").label == f"Yes, it's a {said}"
    assert at.pills[0].options == [str(d) for d in range(10)]
    at.pills[0].set_value(wrong)
    rerun(at)
    # (It may go on: the model is very sure, so this label is held for review once Draw says so.)
    assert at.success[0].value.startswith(f"Saved: you said {wrong}; the model said {said}. Thank you!")
    rows = FeedbackStore(db).all()
    assert rows.labels.tolist() == [wrong] and rows.predicted.tolist() == [said]
    assert rows.raw_sizes.tolist() == [[280, 280]] and 0.95 < rows.confidence[0] <= 1
    assert rows.models[0].startswith("default: numpy cnn ")
    assert np.array_equal(rows.images[0], np.round(canvas_to_mnist(canvas_image(x_test[first])) * 255))
    # Rerunning (any other widget) stores nothing more, and the question stays answered.
    rerun(at)
    assert FeedbackStore(db).count() == 1 and not at.pills
    assert not [b for b in at.button if b.key == "confirm"]

    # A new drawing asks again; confirming stores the model's own answer as the label.
    at.session_state["canvas"] = drawing(x_test[second])
    rerun(at)
    at.button(key="confirm").click()
    rerun(at)
    assert at.success[0].value == f"Saved: you said {y_test[second]}; the model said {y_test[second]} too. Thank you!"
    assert FeedbackStore(db).all().labels.tolist() == [wrong, y_test[second]]

    # Clear (the canvas' own reset, in the browser: an empty canvas), then the first drawing again:
    # it was saved already, so it says so and stores nothing.
    at.session_state["canvas"] = None
    rerun(at)
    assert not shown_html(at, "Was I right?")
    at.session_state["canvas"] = drawing(x_test[first])
    rerun(at)
    assert at.success[0].value.startswith(f"Saved: you said {wrong}")
    assert FeedbackStore(db).count() == 2


def test_draw_says_when_an_answer_cannot_be_saved(site, mnist, monkeypatch, tmp_path):
    at, _, _ = site
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, but long enough to look like a header" * 4)
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(junk))
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(mnist[1][0][0])
    rerun(at)
    at.button(key="confirm").click()
    rerun(at)
    assert "Your answer could not be saved" in at.error[0].value and "junk.db" in at.error[0].value
    assert at.button(key="confirm") and not at.success  # it can be tried again


def test_draw_shows_the_nearest_training_images(site, mnist):
    at, _, _ = site
    (x_train, y_train), _ = mnist
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(x_train[0])  # a training image: it is its own nearest
    rerun(at)
    closest = shown_html(at, "The closest MNIST training images")
    assert len(closest) == 1
    captions = re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", closest[0])
    assert len(captions) == 3 and all(c.startswith("a ") and "(no. " in c for c in captions)
    assert captions[0].startswith(f"a {y_train[0]} ")


def test_a_busy_server_answers_first_and_shows_the_pictures_when_asked(site, mnist):
    at, _, _ = site
    (_, _), (x_test, y_test) = mnist
    visit(at, "pages/draw.py")
    with READS:  # another visitor's drawing is being read meanwhile: the server counts as busy
        at.session_state["canvas"] = drawing(x_test[0])
        rerun(at)
        assert [h.value for h in at.header] == [f"Prediction: {y_test[0]}"]  # the answer, and the question
        assert shown_html(at, "Was I right?") and at.button(key="confirm")
        assert not shown_html(at, "as drawn") and not shown_html(at, "The closest MNIST")
        assert "Many people are drawing right now" in at.info[0].value
        at.button(key="show_pictures").click()  # asked for: shown, busy or not
        rerun(at)
    steps = shown_html(at, "What the model sees")
    assert len(steps) == 1 and steps[0].count("<figure") == 4 and shown_html(at, "The closest MNIST")
    assert not [b for b in at.button if b.key == "show_pictures"]


def test_lab_handwriting_without_drawings_points_to_draw(site):
    at, _, _ = site
    visit(at, "pages/handwriting.py")
    assert at.title[0].value == "Lab handwriting"
    assert "No drawings yet" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")][-1].rstrip("/").endswith("draw")
    assert not at.metric and not at.download_button


def test_lab_handwriting_reports_on_the_collected_drawings(site, mnist):
    at, folder, db = site
    (_, _), (x_test, y_test) = mnist
    model = load_model(folder / "default.npz")
    store = FeedbackStore(db)
    labels = y_test[:30].copy()
    labels[:4] = (labels[:4] + 1) % 10  # four drawings the visitors say are something else
    for image, label in zip(x_test[:30], labels):
        store.add(image, label=int(label), predicted=0, confidence=0.5, model="m", raw_size=(280, 280))
    predictions = model.predict(x_test[:30])
    right = predictions == labels

    visit(at, "pages/handwriting.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["On the lab's drawings"] == f"{right.mean():.2%}"
    assert metrics["On MNIST's test digits"] == f"{np.mean(model.predict(x_test) == y_test):.2%}"
    assert metrics["Drawings collected"] == "30"
    table = at.dataframe[0].value
    assert table["drawings"].tolist() == np.bincount(labels, minlength=10).tolist()
    digit = int(labels[10])
    mine = labels == digit
    assert table["lab accuracy"][digit] == pytest.approx(right[mine].mean())
    # The mistakes, as gallery tiles with the Gallery's captions.
    captions = at.image[0].captions
    assert len(captions) == (~right).sum() and all(c.startswith("✗") for c in captions)
    at.toggle(key="lab_only_mistakes").set_value(False)
    rerun(at)
    assert len(at.image[0].captions) == 30
    assert [b.label for b in at.download_button] == ["CSV (the tutorial's format)", "NPZ (NumPy)"]
    assert at.caption[-1].value.startswith("Every labelled drawing")


def test_lab_handwriting_reads_only_the_drawings_it_shows(site, mnist, monkeypatch):
    at, folder, db = site
    (_, _), (x_test, y_test) = mnist
    model = load_model(folder / "default.npz")
    store = FeedbackStore(db)
    fill(store, x_test[:60], y_test[:60])
    shown = []
    read_rows = FeedbackStore.rows

    def rows(self, ids):
        shown.append(len(ids))
        return read_rows(self, ids)

    def everything(self):
        raise AssertionError("a page view must not read every drawing")

    monkeypatch.setattr(FeedbackStore, "all", everything)
    monkeypatch.setattr(FeedbackStore, "rows", rows)
    visit(at, "pages/handwriting.py")
    at.toggle(key="lab_only_mistakes").set_value(False)
    rerun(at)
    assert shown[-1] == 48 and len(at.image[0].captions) == 48  # the first page of two
    predictions = model.predict(x_test[:60])
    want = [handwriting_caption(y, p) for y, p in zip(y_test[:48], predictions[:48])]
    assert [c.split(" (")[0] for c in at.image[0].captions] == want
    at.session_state["lab_page"] = 2
    rerun(at)
    assert shown[-1] == 12
    assert [c.split(" (")[0] for c in at.image[0].captions] == [
        handwriting_caption(y, p) for y, p in zip(y_test[48:60], predictions[48:60])]

    # A drawing added since: the next view counts it.
    fill(store, x_test[60:61], y_test[60:61])
    rerun(at)
    assert {m.label: m.value for m in at.metric}["Drawings collected"] == "61"


def handwriting_caption(label: int, prediction: int) -> str:
    return f"{prediction}" if prediction == label else f"✗ {prediction}, is {label}"


def test_lab_handwriting_says_when_a_download_holds_only_the_newest(site, mnist, monkeypatch):
    at, _, db = site
    (_, _), (x_test, y_test) = mnist
    fill(FeedbackStore(db), x_test[:12], y_test[:12])
    monkeypatch.setattr(services.feedback_store(), "download_rows", 10)  # the store the page uses
    visit(at, "pages/handwriting.py")
    assert at.caption[-1].value.startswith("The newest 10 of the 12 labelled drawings")
    assert [b.label for b in at.download_button] == ["CSV (the tutorial's format)", "NPZ (NumPy)"]


def test_draw_says_when_the_collection_is_full(site, mnist, monkeypatch):
    at, _, db = site
    fill(FeedbackStore(db), mnist[1][0][:2], mnist[1][1][:2])
    monkeypatch.setattr(services.feedback_store(), "max_rows", 2)  # the store the page uses
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(mnist[1][0][5])
    rerun(at)
    at.button(key="confirm").click()
    rerun(at)
    assert "Your answer could not be saved: the lab's collection of drawings is full" in at.error[0].value
    assert FeedbackStore(db).count() == 2


def sure_of(digit: int) -> np.ndarray:
    """Probabilities of a model that is 99% sure of `digit`."""
    probabilities = np.full(10, 0.01 / 9)
    probabilities[digit] = 0.99
    return probabilities


def held_and_fine(store: FeedbackStore, x, y, held: int) -> list[int]:
    """Labelled drawings of `x`: the first `held` with a label every model strongly disagrees with."""
    ids = []
    for k, (image, label) in enumerate(zip(x, y)):
        given = (int(label) + 1) % 10 if k < held else int(label)
        ids.append(store.add(image, label=given, predicted=int(label), confidence=0.99, model="m",
                             raw_size=(280, 280), visitor="a1b2c3d4e5f6a7b8", probabilities=sure_of(int(label))))
    return ids


def review_buttons(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith(("accept-", "reject-"))]


def test_lab_handwriting_review_needs_the_passcode(site, mnist, monkeypatch):
    at, _, db = site
    (_, _), (x_test, y_test) = mnist
    store = FeedbackStore(db)
    ids = held_and_fine(store, x_test[:10], y_test[:10], held=3)
    monkeypatch.setenv("MNISTLAB_DEMO", "1")
    monkeypatch.setenv("MNISTLAB_PASSCODE", "lab-secret")

    visit(at, "pages/handwriting.py")
    assert "Held for review" in [s.value for s in at.header]
    assert measured(at).startswith("Measured on 7 drawings the live model did not train on; 3 held for review")
    assert metrics_of(at)["Drawings collected"] == "10"
    assert review_buttons(at) == [] and not at.image[1:]  # no held drawing shown, no Accept or Reject
    at.text_input(key="review_passcode").input("wrong guess")
    at.button(key="review_unlock").click()
    rerun(at)
    assert "That is not the passcode." in [e.value for e in at.error] and review_buttons(at) == []

    at.text_input(key="review_passcode").input("lab-secret")
    at.button(key="review_unlock").click()
    rerun(at)
    assert review_buttons(at) == [f"{what}-{i}" for i in ids[:3] for what in ("accept", "reject")] + [
        "accept-page", "reject-page"]
    first = [m.value for m in at.markdown if m.value.startswith("Labelled")][0]
    assert first == f"Labelled **{(y_test[0] + 1) % 10}**  \nthe model read **{y_test[0]}**, 99% sure"
    at.button(key=f"accept-{ids[0]}").click()
    rerun(at)
    assert at.success[0].value == "Accepted 1 drawing."
    assert store.all().status[:3] == ["accepted", "held", "held"]
    assert review_buttons(at)[:2] == [f"accept-{ids[1]}", f"reject-{ids[1]}"]
    assert measured(at).startswith("Measured on 8 drawings the live model did not train on; 2 held for review")
    at.button(key="reject-page").click()  # both that are left, at once
    rerun(at)
    assert at.success[0].value == "Rejected 2 drawings." and store.held_count() == 0
    assert "Held for review" not in [s.value for s in at.header]
    assert measured(at) == "Measured on 8 drawings the live model did not train on; 2 with rejected labels."


def test_lab_handwriting_review_is_closed_without_a_passcode(site, mnist, monkeypatch):
    at, _, db = site
    (_, _), (x_test, y_test) = mnist
    held_and_fine(FeedbackStore(db), x_test[:4], y_test[:4], held=1)
    monkeypatch.setenv("MNISTLAB_DEMO", "1")  # demo mode and no passcode: nobody reviews on the site
    visit(at, "pages/handwriting.py")
    assert "Held for review" in [s.value for s in at.header]
    assert review_buttons(at) == [] and not at.text_input


def test_a_review_decided_elsewhere_meanwhile_is_said(site, mnist, monkeypatch):
    at, _, db = site
    (_, _), (x_test, y_test) = mnist
    store = FeedbackStore(db)
    ids = held_and_fine(store, x_test[:2], y_test[:2], held=2)
    visit(at, "pages/handwriting.py")  # not in demo mode: whoever may train may review
    assert review_buttons(at)[:2] == [f"accept-{ids[0]}", f"reject-{ids[0]}"]
    store.review([ids[0]], "rejected")  # another operator, a moment earlier
    at.button(key=f"accept-{ids[0]}").click()
    rerun(at)
    assert at.success[0].value == "Accepted 0 drawings. 1 had been decided or undone already."
    assert store.all().status == ["rejected", "held"]


def test_lab_handwriting_measures_only_drawings_the_live_model_did_not_train_on(site, mnist):
    at, folder, db = site
    (_, _), (x_test, y_test) = mnist
    store = FeedbackStore(db)
    ids = held_and_fine(store, x_test[:40], y_test[:40], held=2)
    trained = store.training_set()
    model = with_lab_record(load_model(folder / "default.npz"), trained.record)
    services.model_store().publish(model)  # a model trained on the first 38 drawings that stand
    later = held_and_fine(store, x_test[40:52], y_test[40:52], held=0)

    visit(at, "pages/handwriting.py")
    right = model.predict(x_test[40:52]) == y_test[40:52]
    metrics = metrics_of(at)
    assert metrics["On the lab's drawings"] == f"{right.mean():.2%}" and metrics["Drawings collected"] == "52"
    assert measured(at) == ("Measured on 12 drawings the live model did not train on; it trained on 38 more; "
                                   "2 held for review.")
    at.toggle(key="lab_only_mistakes").set_value(False)
    rerun(at)
    assert len(at.image[0].captions) == len(later) == 12  # only the drawings it is measured on

    # Accepting a drawing held when it trained: it was not trained on, but it is older than up_to_id,
    # so it is not counted either (a model's record says how far, not which).
    store.review(ids[:1], "accepted")
    rerun(at)
    assert measured(at).startswith("Measured on 12 drawings the live model did not train on; it trained on 39")


def test_lab_handwriting_when_the_live_model_trained_on_every_drawing(site, mnist):
    at, folder, db = site
    (_, _), (x_test, y_test) = mnist
    store = FeedbackStore(db)
    held_and_fine(store, x_test[:5], y_test[:5], held=0)
    model = with_lab_record(load_model(folder / "default.npz"), store.training_set().record)
    services.model_store().publish(model)
    visit(at, "pages/handwriting.py")
    assert metrics_of(at)["On the lab's drawings"] == "—"
    assert "trained on every drawing collected so far" in at.info[0].value
    assert [b.label for b in at.download_button] == ["CSV (the tutorial's format)", "NPZ (NumPy)"]


def test_trained_up_to_reads_a_models_record(small_mnist):
    assert handwriting.trained_up_to(tiny_model(small_mnist).info) == 0  # no record: trained on none
    assert handwriting.trained_up_to(with_lab_record(tiny_model(small_mnist), None).info) == 0
    record = {"count": 3, "up_to_id": 17, "newest": "2026-11-27T19:00:00+00:00"}
    assert handwriting.trained_up_to(with_lab_record(tiny_model(small_mnist), record).info) == 17
    for unreadable in (True, {"up_to_id": "17"}, {"up_to_id": -1}, {"count": 3}, [17]):
        assert handwriting.trained_up_to(with_lab_record(tiny_model(small_mnist), unreadable).info) is None


@dataclass(frozen=True)
class InfoWithLabRecord(ModelInfo):
    """ModelInfo with the record of the lab drawings a model trained on: the field training is to
    give ModelInfo itself (see handwriting.trained_up_to); until then, this stand-in."""

    lab_drawings: object = None


def with_lab_record(model, record):
    """`model`, its info saying it trained on the lab drawings `record` describes."""
    fields = {f.name: getattr(model.info, f.name) for f in dataclass_fields(ModelInfo)}
    model.info = InfoWithLabRecord(**{**fields, "lab_drawings": record})
    return model


def measured(at: AppTest) -> str:
    """The caption that says which drawings the accuracy is measured on."""
    return next(c.value for c in at.caption if c.value.startswith("Measured on"))


def metrics_of(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture
def runs(site, small_mnist):
    """Two saved runs beside the default: a tiny NumPy network and a small, untrained Keras CNN."""
    from mnistcore.nets.keras_net import KerasModel
    at, folder, db = site
    numpy_run = RUN_NAME.format(day="20250101", engine="numpy", suffix="npz")
    keras_run = RUN_NAME.format(day="20250102", engine="keras", suffix="keras")  # the newest: listed first
    tiny_model(small_mnist, hidden=32).save(folder / "runs" / numpy_run)
    KerasModel("cnn", seed=0).save(folder / "runs" / keras_run)
    return at, numpy_run, keras_run


def test_look_inside_numpy_and_keras_models(runs):
    at, numpy_run, keras_run = runs
    visit(at, "pages/inside.py")
    box = at.selectbox(key="model")
    assert box.value == "default"
    assert [option.split(",")[0] for option in box.options] == [
        "keras cnn conv32-conv64-10 relu/softmax", "numpy 784-32-10 relu/softmax",
        "numpy cnn conv32-conv64-10 relu/softmax"]
    assert box.options[-1].endswith("shipped default (live)")
    surest, imagined = at.image[0].captions, at.image[1].captions
    assert surest == imagined == [str(d) for d in range(10)]
    assert "What its first convolution looks for" in [s.value for s in at.header]  # the shipped convnet
    assert len(at.image[2].proto.imgs) == 15 and at.image[2].proto.imgs[0].url  # its filters, as images
    box.set_value(numpy_run)
    rerun(at)
    assert len(at.image[2].captions) == 24 and at.image[2].captions[0].startswith("unit ")
    at.selectbox(key="model").set_value(keras_run)
    rerun(at)
    assert "What its first convolution looks for" in [s.value for s in at.header]
    assert len(at.image[2].proto.imgs) == 15  # the first 15 filters, after the two sets of digits


def test_draw_compares_every_saved_model(runs, mnist):
    at, numpy_run, keras_run = runs
    (_, _), (x_test, _) = mnist
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(x_test[0])
    rerun(at)
    assert not at.dataframe  # closed: no model is asked
    at.session_state["compare"] = True  # as the visitor opening the expander
    rerun(at)
    table = at.dataframe[0].value
    assert table["model"].tolist() == ["keras cnn conv32-conv64-10 relu/softmax", "numpy 784-32-10 relu/softmax",
                                       "numpy cnn conv32-conv64-10 relu/softmax (live)"]
    assert table["trained"].iloc[2] == "shipped default" and table["test accuracy"].iloc[2] > 0.9
    assert all(len(p) == 10 and abs(sum(p) - 1) < 1e-3 for p in table["0 to 9"])


def test_the_lab_pages_do_not_import_tensorflow(tmp_path, small_mnist, mnist):
    """Draw with a drawing, Lab handwriting and Look inside, with a NumPy model live: no TensorFlow.

    In a fresh process, since other tests in this one may have imported it already.
    """
    folder = weights_copy(tmp_path / "weights", small_mnist)
    db = tmp_path / "lab.db"
    FeedbackStore(db).add(mnist[1][0][0], label=7, predicted=7, confidence=0.9, model="m", raw_size=(280, 280))
    script = f"""
import sys
from streamlit.testing.v1 import AppTest
from mnistcore.data import load_mnist
from sitetools import drawing
at = AppTest.from_file({str(APP)!r}, default_timeout=60)
at.run()
at.switch_page("pages/draw.py")
at.session_state["canvas"] = drawing(load_mnist()[1][0][0])
at.run()
assert at.header and not at.exception, [e.value for e in at.exception]
for page in ("pages/handwriting.py", "pages/inside.py"):
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
print(sorted(name for name in ("tensorflow", "keras", "mnistcore.nets.keras_net") if name in sys.modules))
"""
    tests = str(APP.parent / "tests")
    env = {**os.environ, "MNISTLAB_WEIGHTS_DIR": str(folder), "MNISTLAB_FEEDBACK_DB": str(db),
           "PYTHONPATH": os.pathsep.join([str(APP.parent), tests])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          cwd=APP.parent, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def undo_button(at: AppTest):
    return [b for b in at.button if b.key and b.key.startswith("undo-")]


def test_draw_undoes_a_mis_tap_and_holds_what_the_model_is_sure_of(site, mnist):
    at, folder, db = site
    (_, _), (x_test, y_test) = mnist
    first, = confident_digits(load_model(folder / "default.npz"), x_test, y_test, 1)
    said = int(y_test[first])
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(x_test[first])
    rerun(at)
    at.pills[0].set_value((said + 1) % 10)  # a mis-tap under a clear digit
    rerun(at)
    assert at.success[0].value.endswith(f"The model is very sure it is a {said}: the lab will check your answer "
                                        "before it is used.")
    store = FeedbackStore(db)
    assert store.all().status == ["held"] and len(store.training_set()) == 0

    undo_button(at)[0].click()
    rerun(at)
    assert store.count() == 0 and not at.success and at.pills[0].value is None  # asked again, nothing kept
    at.pills[0].set_value(said)
    rerun(at)
    assert store.all().labels.tolist() == [said] and store.all().status == ["ok"] and undo_button(at)
    # Another visitor (another session, another token) cannot take it back.
    with pytest.raises(UndoRefused, match="labelled by someone else"):
        store.undo(int(store.all().ids[0]), hashlib.sha256(b"feedback:someone else").hexdigest()[:32])


def test_draw_takes_that_is_not_a_digit_as_an_answer_and_takes_it_back(site, mnist):
    at, folder, db = site
    (_, _), (x_test, y_test) = mnist
    first, = confident_digits(load_model(folder / "default.npz"), x_test, y_test, 1)
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(x_test[first])
    rerun(at)
    at.button(key="not-a-digit").click()
    rerun(at)
    assert at.success[0].value.startswith("Saved: you said it is not a digit;")
    store = FeedbackStore(db)
    assert store.count() == 1 and store.all().not_digit.tolist() == [True]
    assert len(store.not_digits()) == 0 and store.held_count() == 1  # the model is sure of a digit: reviewed first
    assert len(store.training_set()) == 0 and len(store.read()) == 0  # never a digit to train on or to score
    take_back, = undo_button(at)
    assert take_back.label == "Take back my answer"
    take_back.click()
    rerun(at)
    assert store.count() == 0 and not at.success and at.button(key="not-a-digit")


def test_a_new_drawing_after_saving_keeps_the_saved_answer_in_view(site, mnist):
    """Undo stroke (or Clear) makes a new drawing: the answer saved for the one before stays listed,
    and can still be taken back."""
    at, folder, db = site
    (_, _), (x_test, y_test) = mnist
    first, second = confident_digits(load_model(folder / "default.npz"), x_test, y_test, 2)
    visit(at, "pages/draw.py")
    at.session_state["canvas"] = drawing(x_test[first])
    rerun(at)
    at.button(key="confirm").click()
    rerun(at)
    at.session_state["canvas"] = drawing(x_test[second])  # what the canvas sends after Undo stroke
    rerun(at)
    store = FeedbackStore(db)
    assert store.count() == 1
    assert any("Your answer for the drawing before this one stays saved" in c.value for c in at.caption)
    take_back, = undo_button(at)
    assert take_back.label == "Take back my answer"
    take_back.click()
    rerun(at)
    assert store.count() == 0 and not undo_button(at)
