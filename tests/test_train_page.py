"""The Train page (AppTest): recipes fill the settings, a bad model is never a success and goes
live only with a confirmation (never in demo mode), the words for epochs, and the publish rule."""
import pytest
from streamlit.testing.v1 import AppTest

from mnistcore.lab import publish as policy
from sitetools import APP, weights_copy
from ui.resources import slot
from ui.visitor import _passcode_key

# A run that learns nothing: huge steps, one image at a time (it ends at chance after its epoch).
WRECK = {"epochs": 1, "batch_size": 1, "hidden": 16, "learning_rate": 1.0, "momentum": 0.99}


@pytest.fixture
def at(tmp_path, monkeypatch, small_mnist):
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(weights_copy(tmp_path / "weights", small_mnist)))
    monkeypatch.setenv("MNISTLAB_TRAIN_LIMIT", "300")
    monkeypatch.setenv("MNISTLAB_TIMINGS", str(tmp_path / "timings.json"))
    for name in ("MNISTLAB_DEMO", "MNISTLAB_PASSCODE", "MNISTLAB_PUBLISH_FLOOR"):
        monkeypatch.delenv(name, raising=False)
    # AppTest's st.context is a mock, whose address the slot cannot write down: give a real one.
    monkeypatch.setattr("ui.visitor.client", lambda: "127.0.0.1")
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def labels(at):
    return [b.label for b in at.button]


def train(at, **settings):
    for name, value in settings.items():
        at.number_input(key=name).set_value(value)
    at.run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert slot().wait(60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_recipes_fill_the_settings_and_a_change_makes_them_custom(at):
    assert at.radio(key="recipe").value == "best"
    at.radio(key="recipe").set_value("tutorial").run()
    values = {name: at.session_state[name] for name in ("hidden", "learning_rate", "momentum", "batch_size", "epochs")}
    assert values == {"hidden": 200, "learning_rate": 0.1, "momentum": 0.0, "batch_size": 1, "epochs": 5}
    assert at.radio(key="activation").value == "sigmoid"
    assert any("Exactly the tutorial" in c.value for c in at.caption)
    at.number_input(key="epochs").set_value(2).run()
    assert at.radio(key="recipe").value == "custom" and at.number_input(key="hidden").value == 200
    assert any("How many times the network sees" in c.value for c in at.caption)  # each setting explained


class OlderLabels(list):
    """A radio's labels as the browser still shows them: from before an update (an older time
    estimate, the other language), so what it sends back is none of the server's labels now."""

    def __getitem__(self, i):
        return super().__getitem__(i) + " (as shown before)"


def test_a_label_from_before_an_update_is_no_choice(at):
    """Streamlit passes a label it cannot match on as the value: no page error, nothing changes."""
    at.radio(key="recipe").set_value("tutorial").run()
    radio = at.radio(key="recipe").set_value("quick")  # the browser sends Quick look's label from before
    radio.options = OlderLabels(radio.options)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="recipe").value == "tutorial" and at.number_input(key="hidden").value == 200
    activation = at.radio(key="activation").set_value("relu")  # a setting's radio: not made custom either
    activation.options = OlderLabels(activation.options)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="activation").value == "sigmoid" and at.radio(key="recipe").value == "tutorial"
    at.radio(key="activation").set_value("relu").run()  # a real choice still is one
    assert at.radio(key="activation").value == "relu" and at.radio(key="recipe").value == "custom"


def test_settings_known_to_blow_up_are_warned_of_before_start(at):
    assert not at.warning
    at.number_input(key="batch_size").set_value(4).run()
    assert any("Careful" in w.value and "batch 4" in w.value for w in at.warning)


def test_a_chance_level_model_is_red_and_goes_live_only_when_confirmed(at, tmp_path):
    train(at, **WRECK)
    assert not at.success  # never green
    text = " ".join(e.value for e in at.error)
    assert "stopped itself" in text and "no better than guessing" in text
    assert "Not a good model for everyone" in text and "the live model has" in text and "1 epoch at batch 1" in text
    assert "1 epochs" not in text
    go = next(b for b in at.button if b.label == "Publish anyway")
    assert go.disabled
    box = next(c for c in at.checkbox if c.key == "publish-confirm")
    assert "replace the live model's" in box.label and "%" in box.label  # names both accuracies
    live = tmp_path / "weights" / "live.json"
    before = live.read_text() if live.exists() else None  # (a disabled button cannot be clicked at all)
    box.check().run()
    assert (live.read_text() if live.exists() else None) == before  # ticking alone changes nothing
    next(b for b in at.button if b.label == "Publish anyway").click().run()
    assert not at.exception
    assert any("Published: it is the live model now" in s.value for s in at.success)
    # Make live now offers the best earlier model first (the shipped one), with no question asked.
    assert at.selectbox(key="revert").value == "default" and "Make live" in labels(at)


def test_demo_mode_refuses_a_bad_model_even_with_the_passcode(at, monkeypatch):
    train(at, **WRECK)
    monkeypatch.setenv("MNISTLAB_DEMO", "yes")
    monkeypatch.setenv("MNISTLAB_PASSCODE", "sesame")
    at.session_state["unlocked"] = _passcode_key("sesame")
    at.run()
    assert not at.exception and not [b for b in labels(at) if b.startswith("Publish")]
    assert any("In this demo only a model better than the live one" in i.value for i in at.info)


def test_the_curves_and_the_words_for_a_one_epoch_run(at):
    at.radio(key="recipe").set_value("quick").run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert slot().wait(60)
    at.run()
    assert not at.exception
    said = " ".join(e.value for e in [*at.error, *at.success])
    assert "1 epoch at batch 128" in said and "1 epochs" not in said
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 2  # loss and accuracy, drawn with points (one point is still visible)
    result = slot().result(slot().view(at.session_state["visitor"].id).mine.run_id)
    inside = [p for p in result.points if p.samples_seen < p.total_samples and p.test_accuracy is not None]
    assert len(inside) == 2  # 300 images at batch 128: a point after each batch but the last (the epoch's)


@pytest.mark.parametrize("accuracy, live, floor, good", [
    (0.99, 0.98, 0.95, True), (0.98, 0.98, 0.95, False), (0.97, 0.98, 0.95, False), (0.96, None, 0.97, False),
    (0.1034, 0.9843, 0.95, False), (None, 0.98, 0.95, False), (0.96, 0.90, 0.95, True)])
def test_the_publish_rule(accuracy, live, floor, good):
    check = policy.check_publish(accuracy, live, floor)
    assert check.good is good
    assert (policy.refusal(check, demo=False, confirmed=False) is None) is good
    assert (policy.refusal(check, demo=True, confirmed=True) is None) is good  # demo: never a bad one
    if not good:
        assert policy.refusal(check, demo=False, confirmed=True) is None
        if accuracy is not None:
            assert f"{accuracy:.2%}" in check.confirm and (live is None or f"{live:.2%}" in check.confirm)
    with pytest.raises(ValueError, match="floor must be"):
        policy.check_publish(0.9, 0.9, 95)


def test_best_first_and_one_answer():
    accuracy = {"a": 0.9, "b": None, "c": 0.99, "d": 0.95}
    assert policy.best_first(["a", "b", "c", "d"], accuracy.get) == ["c", "d", "a", "b"]
    collapsed = [[0] * 10 for _ in range(10)]
    for row in collapsed:
        row[2] = 100
    assert policy.one_answer(collapsed) == (2, 1.0)
    assert policy.one_answer([[10 if i == j else 0 for j in range(10)] for i in range(10)]) is None


def test_the_robust_and_lab_drawings_switches_reach_the_run_and_the_models_info(at, tmp_path, monkeypatch,
                                                                              small_mnist):
    from mnistcore.lab.feedback import FeedbackStore
    from mnistcore.lab.services import feedback_store

    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(tmp_path / "lab.db"))
    at.run()
    assert at.toggle(key="lab_drawings").disabled  # nothing labelled yet: nothing to learn from
    (x, y), _ = small_mnist
    for image, label in zip(x[:5], y[:5]):
        feedback_store().add(image, int(label), predicted=int(label), confidence=0.9, model="default",
                             raw_size=(280, 280))
    feedback_store().add(x[5].T.copy(), 0, predicted=0, confidence=0.9, model="default", raw_size=(280, 280),
                         not_digit=True)  # "That is not a digit": no digit to learn, a shape to refuse
    at.run()
    assert not at.toggle(key="lab_drawings").disabled and "5 labelled" in at.toggle(key="lab_drawings").label
    at.radio(key="recipe").set_value("quick").run()
    at.toggle(key="robust").set_value(True)
    at.toggle(key="lab_drawings").set_value(True).run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert slot().wait(60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    run = slot().view(at.session_state["visitor"].id).mine
    assert run.settings.robust and run.settings.lab_drawings
    info = slot().result(run.run_id).model.info
    assert info.augment is not None and info.augment["rotate"] > 0  # the distortions it trained with
    assert info.lab_drawings["count"] == 5 and info.lab_drawings["up_to_id"] == FeedbackStore(
        tmp_path / "lab.db").training_set().record["up_to_id"]
    assert info.open_set["fitted_on"]["lab_others"] == 1  # its companion learned the drawing said not to be a digit


def test_choosing_the_cnn_gives_it_a_step_size_it_learns_with(at):
    at.radio(key="recipe").set_value("custom").run()
    assert at.number_input(key="learning_rate").value > 0.01  # the MLP's SGD step
    at.radio(key="arch").set_value("cnn").run()
    assert at.radio(key="recipe").value == "custom" and at.number_input(key="learning_rate").value == 0.001
    assert at.toggle(key="robust")  # the switch is there for every network
