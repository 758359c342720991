"""Training runs: the lab's drawings join the training images and are reported on separately;
the estimates of how long a run takes."""
import numpy as np
import pytest

from mnistcore.lab.feedback import FeedbackStore
from mnistcore.training import TrainSettings, describe_seconds, engine_problem, estimate_seconds, run_training

QUICK = dict(epochs=3, batch_size=32, hidden=32, train_limit=1000, seed=0)


def two_bars(shift: int) -> np.ndarray:
    """A shape no MNIST digit has: two horizontal bars, shifted by `shift` pixels."""
    image = np.zeros((28, 28), np.uint8)
    image[6 + shift : 9 + shift, 4:24] = 255
    image[18:21, 4 + shift : 20 + shift] = 255
    return image


@pytest.fixture
def lab():
    """20 drawings of two bars, which the visitors say are 3s: (images, labels)."""
    return np.array([two_bars(i % 5) for i in range(20)]), np.full(20, 3, np.uint8)


def test_lab_drawings_are_learned_and_reported(small_mnist, lab):
    probes = np.array([two_bars(shift) for shift in range(5)])
    without = run_training(TrainSettings(**QUICK), small_mnist, lab_drawings=lab)
    assert without.lab_count == 0 and without.lab_evaluation is None
    assert without.model.info.train_samples == 1000
    assert (without.model.predict(probes) != 3).any()  # MNIST alone does not call two bars a 3

    result = run_training(TrainSettings(**QUICK, lab_drawings=True), small_mnist, lab_drawings=lab)
    assert result.lab_count == 20 and result.model.info.train_samples == 1000 + 20
    assert result.lab_evaluation.count == 20 and result.lab_evaluation.accuracy == 1.0
    assert result.model.predict(probes).tolist() == [3] * 5
    assert result.evaluation.count == len(small_mnist[1][1])  # the test set is still MNIST's own
    assert result.evaluation.accuracy > 0.7


def test_the_lab_database_comes_from_the_environment(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(tmp_path / "lab.db"))
    store = FeedbackStore()
    for image, label in zip(*lab):
        store.add(image, label=int(label), predicted=0, confidence=0.5, model="m", raw_size=(280, 280))
    assert store.path == tmp_path / "lab.db" and len(FeedbackStore(create=False).all()) == 20


def test_no_drawings_to_train_on_is_an_error_that_says_so(small_mnist, tmp_path, monkeypatch):
    settings = TrainSettings(**QUICK, lab_drawings=True)
    empty = FeedbackStore(tmp_path / "empty.db").all()
    for given in (None, (empty.images, empty.labels)):
        with pytest.raises(ValueError, match="no lab drawings to train on yet"):
            run_training(settings, small_mnist, lab_drawings=given)
    missing = tmp_path / "nowhere" / "lab.db"
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(missing))
    with pytest.raises(FileNotFoundError, match="no lab drawings database at"):
        FeedbackStore(create=False)
    assert not missing.parent.exists()  # a wrong path is not made into an empty database


def test_settings_with_lab_drawings():
    assert TrainSettings().lab_drawings is False
    assert "lab's drawings" in TrainSettings(lab_drawings=True).describe()
    assert "lab" not in TrainSettings().describe()
    with pytest.raises(ValueError, match="lab drawings must be True or False; got 'yes'"):
        TrainSettings(lab_drawings="yes").validate()


def test_estimates_follow_the_measured_costs():
    default = estimate_seconds(TrainSettings(epochs=1))
    assert 0.5 < default < 3  # ~1 s per epoch for 784-512-10 at batch 128 on 60,000 images
    assert estimate_seconds(TrainSettings(epochs=10)) == pytest.approx(10 * default)
    tutorial = estimate_seconds(TrainSettings(epochs=1, batch_size=1, hidden=200, activation="sigmoid",
                                              momentum=0.0))
    assert tutorial > 8  # per-sample updates are slow: the tutorial's 10+ s per epoch
    assert estimate_seconds(TrainSettings(epochs=1, train_limit=6000)) < default / 5
    mlp = estimate_seconds(TrainSettings(engine="keras", arch="mlp", epochs=1))
    cnn = estimate_seconds(TrainSettings(engine="keras", arch="cnn", epochs=1))
    assert 2 < mlp < cnn and cnn > 20


@pytest.mark.parametrize("seconds, words", [(3, "a few seconds"), (42, "about 40 seconds"),
                                            (200, "about 3 minutes"), (3900, "about 1 hour 5 minutes"),
                                            (7200, "about 2 hours")])
def test_durations_read_like_speech(seconds, words):
    assert describe_seconds(seconds) == words


def test_engine_problem_is_none_for_numpy():
    assert engine_problem(TrainSettings()) is None
    problem = engine_problem(TrainSettings(engine="keras"))
    assert problem is None or "not available" in problem
