"""Teach it: a copy learns one drawing in a few steps, the model given never changes, and on Draw
(AppTest) it changes that visitor's answer only, until they undo it."""
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnistcore.training.teach import teach
from sitetools import APP, drawing, forget_live_signal, tiny_model, weights_copy


def test_teaching_turns_the_answer_and_leaves_the_model_given_alone(small_mnist):
    (x_train, y_train), (x_test, _) = small_mnist
    model = tiny_model(small_mnist, hidden=32, samples=2000)
    image = x_test[0].astype(np.float32) / 255
    before = model.predict_proba(image[None])[0]
    digit = int(np.argsort(before)[-2])  # the runner-up: what the visitor says it is
    taught, steps = teach(model, image, digit, x_train, y_train, steps=20, seconds=None)
    assert int(np.argmax(taught.predict_proba(image[None])[0])) == digit and 1 <= steps <= 20
    np.testing.assert_array_equal(model.predict_proba(image[None])[0], before)


@pytest.mark.parametrize("digit, image, problem", [(10, np.zeros((28, 28)), "from 0 to 9"),
                                                   (3, np.zeros((20, 20)), "shape")])
def test_teaching_refuses_a_bad_digit_or_image(small_mnist, digit, image, problem):
    (x_train, y_train), _ = small_mnist
    with pytest.raises(ValueError, match=problem):
        teach(tiny_model(small_mnist), image, digit, x_train, y_train)


@pytest.fixture
def draw(tmp_path, monkeypatch, small_mnist):
    folder = weights_copy(tmp_path / "weights", small_mnist)
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(folder))

    def visitor() -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.run()
        at.switch_page("pages/draw.py").run()
        return at
    yield visitor
    forget_live_signal(folder)


WRONG = 1901  # a test image (a 9) the shipped model reads wrong on the canvas


def answer(at: AppTest) -> int:
    assert not at.exception, [e.value for e in at.exception]
    return at.session_state["reading"].answer.digit


def test_teach_it_changes_one_visitors_answer_and_undo_restores_it(draw, mnist):
    (_, _), (x_test, y_test) = mnist
    me, other = draw(), draw()
    for at in (me, other):
        at.session_state["canvas"] = drawing(x_test[WRONG])
        at.run()
    said, taught = answer(me), int(y_test[WRONG])
    assert said != taught  # the shipped model reads this 9 as a 4
    me.session_state["teach_digit"] = taught  # the pill the visitor taps
    me.run()
    me.button(key="teach").click().run()
    assert answer(me) == taught
    assert any("Before teaching it said" in c.value and "weights += learning rate × error × input" in c.value
               for c in me.caption)
    other.run()
    assert answer(other) == said  # nobody else's model learned anything
    me.button(key="untaught").click().run()
    assert answer(me) == said
