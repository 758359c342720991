"""Training with the lab's drawings: they join the training images and are reported on separately."""
import numpy as np
import pytest

from mnistcore.feedback import FeedbackStore
from mnistcore.training import TrainSettings, run_training

QUICK = dict(epochs=3, batch_size=32, hidden=32, train_limit=1000, seed=0)


def two_bars(shift: int) -> np.ndarray:
    """A shape no MNIST digit has: two horizontal bars, shifted by `shift` pixels."""
    image = np.zeros((28, 28), np.uint8)
    image[6 + shift : 9 + shift, 4:24] = 255
    image[18:21, 4 + shift : 20 + shift] = 255
    return image


@pytest.fixture
def lab(tmp_path):
    """A lab database with 20 drawings of two bars, which the visitors say are 3s."""
    store = FeedbackStore(tmp_path / "lab.db")
    for i in range(20):
        store.add(two_bars(i % 5), label=3, predicted=0, confidence=0.5, model="m", raw_size=(280, 280))
    return store


def test_lab_drawings_are_learned_and_reported(small_mnist, lab):
    probes = np.array([two_bars(shift) for shift in range(5)])
    without = run_training(TrainSettings(**QUICK), small_mnist, feedback=lab)
    assert without.lab_count == 0 and without.lab_evaluation is None
    assert without.model.info.train_samples == 1000
    assert (without.model.predict(probes) != 3).any()  # MNIST alone does not call two bars a 3

    result = run_training(TrainSettings(**QUICK, lab_drawings=True), small_mnist, feedback=lab)
    assert result.lab_count == 20 and result.model.info.train_samples == 1000 + 20
    assert result.lab_evaluation.count == 20 and result.lab_evaluation.accuracy == 1.0
    assert result.model.predict(probes).tolist() == [3] * 5
    assert result.evaluation.count == len(small_mnist[1][1])  # the test set is still MNIST's own
    assert result.evaluation.accuracy > 0.7


def test_the_lab_database_comes_from_the_environment(small_mnist, lab, monkeypatch):
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(lab.path))
    result = run_training(TrainSettings(**{**QUICK, "epochs": 1}, lab_drawings=True), small_mnist)
    assert result.lab_count == 20


def test_no_drawings_to_train_on_is_an_error_that_says_so(small_mnist, tmp_path, monkeypatch):
    settings = TrainSettings(**QUICK, lab_drawings=True)
    with pytest.raises(ValueError, match="no lab drawings to train on yet"):
        run_training(settings, small_mnist, feedback=FeedbackStore(tmp_path / "empty.db"))
    missing = tmp_path / "nowhere" / "lab.db"
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(missing))
    with pytest.raises(FileNotFoundError, match="no lab drawings database at"):
        run_training(settings, small_mnist)
    assert not missing.parent.exists()  # a wrong path is not made into an empty database


def test_settings_with_lab_drawings(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(tmp_path / "never-read.db"))
    assert TrainSettings().lab_drawings is False
    assert "lab's drawings" in TrainSettings(lab_drawings=True).describe()
    assert "lab" not in TrainSettings().describe()
    with pytest.raises(ValueError, match="lab drawings must be True or False; got 'yes'"):
        TrainSettings(lab_drawings="yes").validate()
    assert not (tmp_path / "never-read.db").exists()
