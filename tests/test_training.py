"""Training runs: the lab's drawings join the training images and are reported on separately;
the estimates of how long a run takes."""
import numpy as np
import pytest

from mnistcore.lab.feedback import FeedbackStore
from mnistcore.training import TrainSettings, describe_seconds, engine_problem, estimate_seconds, run_training
from mnistcore.training.timing import COMPANION_SECONDS

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


def epoch_seconds(**settings) -> float:
    """One more epoch's seconds in the estimate: what a run spends after its last epoch left out."""
    return estimate_seconds(TrainSettings(**settings, epochs=2)) - estimate_seconds(TrainSettings(**settings, epochs=1))


def test_estimates_follow_the_measured_costs():
    default = epoch_seconds()
    assert 0.5 < default < 3  # ~1 s per epoch for 784-512-10 at batch 128 on 60,000 images
    assert estimate_seconds(TrainSettings(epochs=10)) - estimate_seconds(TrainSettings(epochs=1)) == \
        pytest.approx(9 * default, rel=0.05)  # the later epochs have fewer curve points than the first
    # After the last epoch: the final test and the companion's fit, whatever the epochs.
    assert estimate_seconds(TrainSettings(epochs=1)) > default + COMPANION_SECONDS
    # One image at a time takes BLAS's vector path: the tutorial's 5 epochs took 22.5 s here, tests included.
    assert 3 < epoch_seconds(batch_size=1, hidden=200, activation="sigmoid", momentum=0.0) < 6
    assert epoch_seconds(train_limit=6000) < default / 5
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


# ---------------------------------------------------------------------------- issue 15: recipes, guards, curves, time

from mnistcore.training import (BEST, CHANCE, POINTS_FIRST_EPOCH, POINTS_PER_EPOCH, Timings,  # noqa: E402
                                estimate_phases, recipes, risky, shape_key)


def test_a_run_that_blows_up_stops_itself_and_says_why(small_mnist):
    """The issue's case in small: huge steps with momentum, one image at a time."""
    settings = TrainSettings(epochs=3, batch_size=1, hidden=16, learning_rate=1.0, momentum=0.99, train_limit=300)
    result = run_training(settings, small_mnist)
    assert result.stopped and len(result.history) == 1  # not 3 epochs of it
    assert "stopped itself" in result.stop_reason and "learning rate" in result.stop_reason
    assert result.evaluation is None or result.evaluation.accuracy <= CHANCE


def test_a_nan_loss_stops_the_run_at_once(small_mnist, monkeypatch):
    from mnistcore.nets.numpy_net import NeuralNetWork
    real = NeuralNetWork._step
    calls = []

    def poisoned(self, x, t):
        loss, out = real(self, x, t)
        calls.append(1)
        return (float("nan") if len(calls) >= 3 else loss), out
    monkeypatch.setattr(NeuralNetWork, "_step", poisoned)
    result = run_training(TrainSettings(**QUICK), small_mnist)
    assert len(calls) == 3 and result.evaluation is None and "became nan" in result.stop_reason


def test_a_good_run_has_no_stop_reason_and_curve_points_within_each_epoch(small_mnist):
    seen = []
    settings = TrainSettings(epochs=2, batch_size=10, hidden=32, train_limit=800)
    result = run_training(settings, small_mnist, on_batch=seen.append)
    assert result.stop_reason is None and not result.stopped
    inside = [p for p in result.points if p.samples_seen % 800]
    assert len(inside) == (POINTS_FIRST_EPOCH - 1) + (POINTS_PER_EPOCH - 1)  # the first epoch closer, but each end
    assert all(p.test_accuracy is not None for p in result.points)
    assert [p.samples_seen for p in inside] == [100, 200, 300, 400, 500, 600, 700, 1000, 1200, 1400]
    assert sum(p.test_accuracy is not None for p in seen) == len(inside)  # the page's callback gets them too
    quiet = run_training(settings, small_mnist)  # nobody watching: no extra scoring
    assert [p.samples_seen for p in quiet.points] == [800, 1600]


def test_recipes_are_valid_and_the_tutorial_is_the_tutorial():
    menu = recipes()
    assert list(menu) == ["quick", "best", "tutorial", "cnn-quick", "cnn"]
    for recipe in menu.values():
        recipe.settings.validate()
        assert risky(recipe.settings) is None
    tutorial = menu["tutorial"].settings
    assert (tutorial.activation, tutorial.hidden, tutorial.learning_rate, tutorial.momentum, tutorial.epochs,
            tutorial.batch_size, tutorial.optimizer) == ("sigmoid", 200, 0.1, 0.0, 5, 1, "sgd")
    assert menu["best"].settings == BEST and menu["cnn"].settings.arch == "cnn"
    quick = menu["cnn-quick"].settings
    assert (quick.engine, quick.arch, quick.schedule, quick.robust) == ("numpy", "cnn", "cosine", False)
    assert quick.epochs <= menu["cnn"].settings.epochs  # and no distortions to slow it down


def test_risky_settings_are_named():
    assert "batch 4" in risky(TrainSettings(batch_size=4))        # the 10.34% run
    assert risky(TrainSettings()) is None and risky(TrainSettings(learning_rate=0.1, momentum=0, batch_size=1)) is None
    assert "Adam" in risky(TrainSettings(optimizer="adam", learning_rate=0.1))


def test_arch_is_checked_for_both_engines_and_words_are_right():
    TrainSettings(engine="numpy", arch="cnn").validate()
    for engine in ("numpy", "keras"):
        with pytest.raises(ValueError, match=f"arch for the {engine} engine must be one of .*got 'rnn'"):
            TrainSettings(engine=engine, arch="rnn").validate()
    with pytest.raises(ValueError, match="optimizer must be one of sgd, adam; got 'rms'"):
        TrainSettings(optimizer="rms").validate()
    assert "1 epoch at batch" in TrainSettings(epochs=1).describe()
    assert "2 epochs at batch" in TrainSettings(epochs=2).describe()
    assert TrainSettings(engine="numpy", arch="cnn").applies == ("learning_rate", "schedule")
    assert "falling to 0" in TrainSettings(engine="numpy", arch="cnn", schedule="cosine").describe()
    assert TrainSettings(engine="keras").applies == ()


def test_timings_learn_from_runs_and_stay_small(tmp_path, small_mnist):
    settings = TrainSettings(**QUICK)
    default = Timings(tmp_path / "default.json")
    run_training(settings, small_mnist, timings=default)  # 1,000 images: mostly fixed costs, not timed
    assert default.lookup(settings) is None
    timings = Timings(tmp_path / "state" / "timings.json", min_samples=100)
    modelled = estimate_phases(settings, 60_000)
    assert estimate_phases(settings, 60_000, timings) == modelled  # nothing measured yet
    run_training(settings, small_mnist, timings=timings)
    per_sample, _ = timings.lookup(settings)
    assert 0 < per_sample < 0.01
    finish = timings.finish(settings)  # the final test and the companion, as this run took them
    assert finish is not None and finish > 0
    assert estimate_phases(settings, 60_000, timings)[1] == pytest.approx(3 * 1000 * per_sample + finish)
    timings.record(settings, 1000, 1000 * per_sample * 3, 0.0, cold=False)  # a slower run: the mean moves halfway
    assert timings.lookup(settings)[0] == pytest.approx(2 * per_sample)
    other = TrainSettings(**{**QUICK, "hidden": 256})  # never run: the model's figure, times this server's slowdown
    slowdown = timings.slowdown(other)
    assert slowdown != 1.0 and estimate_phases(other, 60_000, timings)[1] == pytest.approx(
        estimate_phases(other, 60_000)[1] * slowdown)
    small = Timings(tmp_path / "small.json", max_shapes=3, min_samples=1)  # visitors cannot grow the file without end
    for batch in (1, 2, 4, 8, 16):
        small.record(TrainSettings(batch_size=batch), 10, 1.0, 0.0, cold=False)
    assert list(small.read()["shapes"]) == [shape_key(TrainSettings(batch_size=b)) for b in (4, 8, 16)]
    (tmp_path / "state" / "timings.json").write_text("{not json")
    assert timings.lookup(settings) is None  # a damaged file is an empty record


def test_shape_keys_bucket_batches():
    assert shape_key(TrainSettings(batch_size=100)) == shape_key(TrainSettings(batch_size=128))
    assert shape_key(TrainSettings(batch_size=129)) != shape_key(TrainSettings(batch_size=128))
    assert shape_key(TrainSettings(engine="keras", arch="cnn", batch_size=128)) == "keras/cnn/b128"
