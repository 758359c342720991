"""Knowing what is not a digit: the non-digit sets (mnistcore.nondigits), a model's companion
(mnistcore.openset) saved in its info, and Draw's answers with it (the rates: bench/openset_bench.py)."""
import numpy as np
import pytest

from drawings import as_canvas, pen_digit, pen_shape
from mnistcore.explain.answer import judge_drawing, open_set_for
from mnistcore.nets import load_model
from mnistcore.nets.base import ModelInfo
from mnistcore.nondigits import FIT, HELD_OUT, LETTERS, NOT_A_DIGIT, SIGNS, canvas_steps, drawings, image_steps
from mnistcore.openset import EDGE_ANGLES, FEATURES, OpenSet, _word_thresholds, edge_histograms, reference_for
from mnistcore.preprocess import ink_steps


def test_the_sets_are_the_same_every_time_and_the_held_out_one_differs(mnist):
    x_test, y_test = mnist[1]
    first = drawings(x_test[:40], y_test[:40], FIT, 10, 20)
    again = drawings(x_test[:40], y_test[:40], FIT, 10, 20)
    held = drawings(x_test[:40], y_test[:40], HELD_OUT, 10, 20)
    assert [d.name for d in first] == [d.name for d in again]
    assert all(np.array_equal(a.ink, b.ink) for a, b in zip(first, again))
    assert not np.array_equal(first[-1].ink, held[-1].ink)
    assert {d.kind for d in first} == {"digit", "letter", "sign", "scribble", "number", "cut"}
    assert all((d.label == NOT_A_DIGIT) == (d.kind != "digit") for d in first)


@pytest.mark.parametrize("name", LETTERS + SIGNS)
def test_every_letter_and_sign_is_drawn_as_ink_preprocessing_reads(name):
    steps = ink_steps(as_canvas(pen_shape(name, 200, rng=np.random.default_rng(0))))
    assert steps is not None and steps.shape.extent > 0.5


def test_a_companion_survives_the_model_file(tmp_path):
    model = load_model(None)
    companion = open_set_for(model.info)
    assert companion is not None, "the shipped model carries its companion"
    assert 0 < companion.threshold < 1 and 0.5 <= companion.fairly_sure <= companion.sure < 1
    back = ModelInfo.from_json(model.info.to_json(), "here")
    assert open_set_for(back) == companion
    assert OpenSet.from_dict({**companion.as_dict(), "weights": "AAAA"}) is None  # damaged: as if none
    assert OpenSet.from_dict({**companion.as_dict(), "colour": 1}) is None
    assert OpenSet.from_dict(None) is None and OpenSet.from_dict("x") is None
    assert len(companion._parts[0]) == len(FEATURES)


@pytest.fixture(scope="module")
def shipped(mnist):
    model = load_model(None)
    return model, open_set_for(model.info), reference_for(*mnist[0])


def said(ink, shipped):
    model, companion, reference = shipped
    steps = ink_steps(as_canvas(ink))
    return judge_drawing(steps, model.predict_proba(steps.centred)[0], reference=reference, open_set=companion)


@pytest.mark.parametrize("name", ["heart", "star", "W", "K", "smiley", "#", "B", "R"])
def test_the_shipped_model_says_a_letter_or_shape_is_not_a_digit(name, shipped):
    # Drawn by three hands: at least two of them refused (bench/openset_bench.py gives the rates).
    verdicts = [said(pen_shape(name, 200, rng=np.random.default_rng(seed)), shipped) for seed in range(3)]
    assert sum(v.kind == "not_a_digit" for v in verdicts) >= 2, (name, verdicts)


def test_the_shipped_model_still_reads_digits_drawn_large(mnist, shipped):
    x_test, y_test = mnist[1]
    model, _, reference = shipped
    inks = [pen_digit(x_test[i], 200, 40, 40) for i in range(9000, 9040)]
    verdicts = [said(ink, shipped) for ink in inks]
    right = sum(v.kind == "digit" and v.digit == y_test[9000 + k] for k, v in enumerate(verdicts))
    steps = [ink_steps(as_canvas(ink)) for ink in inks]
    without = sum(judge_drawing(s, model.predict_proba(s.centred)[0], reference=reference).digit == y_test[9000 + k]
                  for k, s in enumerate(steps))
    assert right >= without - 1 and right >= 32, (right, without)  # the companion refuses few real digits
    assert all(v.chance != "about 100%" for v in verdicts)


def test_sure_starts_where_the_answers_are_right_often_enough():
    confidence = np.linspace(0.3, 1.0, 2000)
    right = np.ones(2000, bool)
    right[::4] = confidence[::4] >= 0.8  # a quarter of the answers below 0.8 are wrong
    sure, fairly = _word_thresholds(confidence, right)
    assert 0.79 <= sure <= 0.81 and fairly <= sure


def test_training_fits_a_companion_and_saves_it(small_mnist, tmp_path):
    from mnistcore.training import TrainSettings, run_training
    result = run_training(TrainSettings(epochs=1, batch_size=64, hidden=32, learning_rate=0.2), small_mnist)
    companion = open_set_for(result.model.info)
    assert companion is not None and companion.fitted_on["digits"] > 0 and companion.fitted_on["others"] > 0
    path = result.model.save(tmp_path / "m.npz")
    assert open_set_for(load_model(path).info) == companion
    x_test, y_test = small_mnist[1]
    steps = canvas_steps(drawings(x_test, y_test, HELD_OUT, 1, 0)[0])
    p = result.model.predict_proba(steps.centred)[0]
    chance = companion.digit_chance(steps.shape, p, reference_for(*small_mnist[0]).distances(steps.centred),
                                    steps.centred)
    assert 0.0 <= chance <= 1.0


def test_the_companions_batch_measures_are_the_one_drawing_ones(mnist):
    """fit_open_set measures all its drawings at once; Draw measures one: both must agree."""
    from mnistcore.openset import features, features_of
    x_test, y_test = mnist[1]
    steps = [s for s in map(canvas_steps, drawings(x_test[:60], y_test[:60], FIT, 12, 12)) if s is not None]
    centred = np.array([s.centred for s in steps])
    reference = reference_for(*mnist[0])
    far = reference.distances_of(centred)
    one_by_one = np.array([[reference.distance(c, digit) for digit in range(10)] for c in centred])
    assert np.allclose(far, one_by_one, atol=1e-4) and np.allclose(reference.distances(centred[0]), far[0], atol=1e-4)
    p = np.random.default_rng(0).dirichlet(np.full(10, 0.3), len(steps))
    together = features_of([s.shape for s in steps], p, far, centred)
    assert together.shape == (len(steps), len(FEATURES))
    assert np.array_equal(together, np.array([features(s.shape, q, d, c) for s, q, d, c in
                                              zip(steps, p, far, centred)]))


def test_the_temperature_is_the_best_on_its_grid():
    """The search halves towards the least log loss; it must land where trying every temperature does."""
    from mnistcore.openset import fit_temperature, scaled
    rng = np.random.default_rng(3)
    grid = np.exp(np.linspace(np.log(0.5), np.log(10.0), 1000))
    for sharpness in (0.3, 1.0, 3.0, 9.0):
        labels = rng.integers(0, 10, 500)
        logits = rng.normal(0, 1, (500, 10))
        logits[np.arange(500), labels] += 1.5
        p = np.exp(logits * sharpness) / np.exp(logits * sharpness).sum(axis=1, keepdims=True)
        losses = [-np.mean(np.log(scaled(p, t)[np.arange(500), labels])) for t in grid]
        assert fit_temperature(p, labels) == pytest.approx(grid[int(np.argmin(losses))], rel=1e-9)


def test_edge_histograms_say_where_the_edges_run_which_way():
    upright, lying = np.zeros((28, 28), np.float32), np.zeros((28, 28), np.float32)
    upright[2:26, 4:7] = 1.0   # a bar in the left column of cells: its edges change from left to right
    lying[4:7, 2:26] = 1.0     # a bar in the top row of cells: its edges change from top to bottom
    cells = edge_histograms(np.stack([upright, lying])).reshape(2, 4, 4, EDGE_ANGLES)
    assert cells.shape == (2, 4, 4, EDGE_ANGLES) and len(FEATURES) == 36 + cells[0].size
    side, middle = cells[0, 1:3, 0], cells[1, 0, 1:3]  # cells along each bar, away from its ends
    assert side[:, 0].min() > 1 and side[:, 1:].max() < 0.1 * side[:, 0].min()
    assert middle[:, EDGE_ANGLES // 2].min() > 1 and np.delete(middle, EDGE_ANGLES // 2, axis=1).max() < 0.1
    assert cells[0, :, 2:].max() == 0 and cells[1, 2:].max() == 0  # nothing where there is no ink


def test_a_drawing_kept_in_mnist_format_is_read_again_as_drawn(mnist):
    image = mnist[1][0][0]
    steps = image_steps(image)
    assert steps is not None and steps.shape.extent > 0.5
    assert np.corrcoef(steps.centred.ravel(), image.ravel())[0, 1] > 0.9
    assert image_steps(np.zeros((28, 28), np.uint8)) is None
    with pytest.raises(ValueError, match=r"\(28, 28\) image, got shape \(280, 280\)"):
        image_steps(np.zeros((280, 280), np.uint8))


def test_drawings_said_not_to_be_digits_teach_the_companion_to_refuse_them(small_mnist):
    """Upside-down digits a visitor called "not a digit": a model trained with the lab's drawings
    learns to refuse them more than the same model's companion fitted without them."""
    from mnistcore.openset import fit_open_set
    from mnistcore.training import TrainSettings, run_training
    (x_train, y_train), (x_test, y_test) = small_mnist
    upside_down = np.rot90(x_test[-60:], 2, axes=(1, 2)).copy()
    settings = TrainSettings(epochs=1, batch_size=64, hidden=32, learning_rate=0.2, lab_drawings=True)
    result = run_training(settings, small_mnist, lab_drawings=(x_train[:12], y_train[:12]),
                          lab_not_digits=upside_down)
    taught = open_set_for(result.model.info)
    assert taught.fitted_on["lab_others"] == 60 and taught.fitted_on["others"] > 0
    untaught = fit_open_set(result.model, (x_train, y_train), (x_test[:1000], y_test[:1000]))
    assert untaught.fitted_on["lab_others"] == 0
    reference = reference_for(x_train, y_train)
    steps = [image_steps(image) for image in upside_down]
    p = result.model.predict_proba(np.array([s.centred for s in steps]))

    def refused(companion):
        return np.mean([companion.digit_chance(s.shape, q, reference.distances(s.centred), s.centred)
                        < companion.threshold for s, q in zip(steps, p)])
    assert refused(taught) >= refused(untaught) + 0.2, (refused(taught), refused(untaught))
