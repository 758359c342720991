"""A visitor's own model (AppTest): a finished run is theirs, answers their drawings on Draw beside
the live model, is on the class board, and changes nothing for anyone else."""
import pytest
from streamlit.testing.v1 import AppTest

from sitetools import APP, drawing, weights_copy
from ui.resources import class_board, slot, store


@pytest.fixture
def site(tmp_path, monkeypatch, small_mnist):
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(weights_copy(tmp_path / "weights", small_mnist)))
    monkeypatch.setenv("MNISTLAB_TRAIN_LIMIT", "2000")
    monkeypatch.setenv("MNISTLAB_TIMINGS", str(tmp_path / "timings.json"))
    for name in ("MNISTLAB_DEMO", "MNISTLAB_PASSCODE", "MNISTLAB_PUBLISH_FLOOR", "MNISTLAB_CLASS_TRAINING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("ui.visitor.client", lambda: "127.0.0.1")

    def visitor() -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.run()
        return at
    return visitor


def visit(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def train(at: AppTest, name: str) -> None:
    visit(at, "pages/train.py")
    at.number_input(key="epochs").set_value(3)
    at.number_input(key="hidden").set_value(64)
    at.text_input(key="owner").set_value(name)
    at.run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert slot().wait(60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_a_visitors_model_answers_their_drawings_and_nobody_elses(site, mnist):
    (_, _), (x_test, _) = mnist
    ada, bob = site(), site()
    live = store().live().name
    train(ada, "Ada")
    said = " ".join(e.value for e in list(at_messages(ada)))
    assert "first model trained in this class" in said
    assert [entry.label for entry in class_board().entries()] == ["Ada"]
    assert store().live().name == live  # training, and keeping the model, changed nobody's live model

    visit(ada, "pages/draw.py")
    ada.session_state["canvas"] = drawing(x_test[0])
    ada.run()
    assert ada.session_state["whose"] == "mine"
    assert ada.session_state["reading"].key[1].startswith("0:class:")  # read by Ada's own model
    assert any(c.value.startswith("The live model says") for c in ada.caption)

    ada.session_state["whose"] = "live"  # the live one, side by side
    ada.run()
    assert ada.session_state["reading"].key[1].endswith(live)
    assert any(c.value.startswith("Your model says") for c in ada.caption)

    visit(bob, "pages/draw.py")  # Bob has trained nothing: the live model answers him, no choice offered
    bob.session_state["canvas"] = drawing(x_test[0])
    bob.run()
    assert "whose" not in bob.session_state
    assert bob.session_state["reading"].key[1].endswith(live)


def test_in_demo_mode_the_class_may_train_but_only_the_operator_makes_a_model_live(site, monkeypatch):
    monkeypatch.setenv("MNISTLAB_DEMO", "yes")
    monkeypatch.setenv("MNISTLAB_PASSCODE", "sesame")
    monkeypatch.setenv("MNISTLAB_CLASS_TRAINING", "yes")
    student = site()
    live = store().live().name
    train(student, "Cy")
    assert not any(b.label.startswith("Publish") for b in student.button)
    assert any("Publishing is off in this demo" in i.value for i in student.info)
    assert [entry.label for entry in class_board().entries()] == ["Cy"]
    assert store().live().name == live


def at_messages(at: AppTest):
    return list(at.success) + list(at.error) + list(at.warning)
