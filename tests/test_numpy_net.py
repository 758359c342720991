"""The NumPy network: the tutorial's behaviour, backprop against finite differences, training."""
import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnistcore.data import export_csv
from mnistcore.nets import load_model
from mnistcore.nets.numpy_net import NeuralNetWork
from sitetools import FIRST_MLP

TUTORIAL = Path(__file__).parent / "tutorial"
sys.path.insert(0, str(TUTORIAL))
import original_class  # noqa: E402  the tutorial's own class, as published

def tutorial_sample(image, label):
    """The tutorial's scaling and targets for one sample."""
    inputs = image.ravel() / 255.0 * 0.99 + 0.01
    targets = np.zeros(10) + 0.01
    targets[label] = 0.99
    return inputs, targets


def test_train_and_query_match_the_tutorials_class(mnist):
    (x_train, y_train), (x_test, _) = mnist
    ours = NeuralNetWork(784, 200, 10, 0.1, seed=1)
    theirs = original_class.NeuralNetWork(784, 200, 10, 0.1)
    theirs.wih, theirs.who = ours.wih.astype(np.float64), ours.who.astype(np.float64)
    for i in range(300):
        sample = tutorial_sample(x_train[i], y_train[i])
        ours.train(*sample)
        theirs.train(*sample)
    # Same updates, ours in float32: agreement to float32 precision after 300 steps.
    assert np.allclose(ours.wih, theirs.wih, atol=2e-5) and np.allclose(ours.who, theirs.who, atol=2e-5)
    inputs = x_test[0].ravel() / 255.0 * 0.99 + 0.01
    with contextlib.redirect_stdout(io.StringIO()):  # the tutorial's query prints its answer
        expected = theirs.query(inputs)
    assert np.allclose(ours.query(inputs), expected, atol=1e-5)
    assert np.allclose(ours.query(list(inputs)), expected, atol=1e-5)  # lists work too


def test_initial_weights_follow_the_tutorial():
    net = NeuralNetWork(784, 200, 10, 0.1, seed=0)
    assert net.wih.shape == (200, 784) and net.who.shape == (10, 200)
    assert abs(net.wih.std() - 200 ** -0.5) < 0.005 and abs(net.who.std() - 10 ** -0.5) < 0.03
    assert abs(net.wih.mean()) < 0.005
    assert np.array_equal(net.wih, NeuralNetWork(784, 200, 10, 0.1, seed=0).wih)  # seeded
    assert not np.array_equal(net.wih, NeuralNetWork(784, 200, 10, 0.1, seed=1).wih)


def loss_of(net, x, t):
    """The batch-mean loss each activation's update descends, computed directly."""
    hidden_in = x @ net.wih.T + net.bh
    if net.activation == "sigmoid":
        out = 1 / (1 + np.exp(-(1 / (1 + np.exp(-hidden_in)) @ net.who.T)))
        return 0.5 * np.sum((t - out) ** 2) / len(x)
    logits = np.maximum(hidden_in, 0) @ net.who.T + net.bo
    logits = logits - logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -np.sum(t * log_p) / len(x)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("batch", [1, 5])
def test_update_is_minus_learning_rate_times_the_finite_difference_gradient(activation, batch):
    rng = np.random.default_rng(2)
    lr = 1e-3
    net = NeuralNetWork(7, 6, 4, lr, activation=activation, seed=3)
    names = ("wih", "who") + (("bh", "bo") if activation == "relu" else ())
    for name in names:  # float64 so finite differences are exact enough; random biases too
        setattr(net, name, getattr(net, name).astype(np.float64) + rng.normal(0, 0.1, getattr(net, name).shape))
    x = rng.random((batch, 7))
    t = np.full((batch, 4), 0.01)
    t[np.arange(batch), rng.integers(0, 4, batch)] = 0.99
    if activation == "relu":
        t = t / t.sum(axis=1, keepdims=True)
    numeric = {}
    for name in names:
        weight = getattr(net, name)
        grad = np.zeros_like(weight)
        for index in np.ndindex(weight.shape):
            old = weight[index]
            weight[index] = old + 1e-6
            up = loss_of(net, x, t)
            weight[index] = old - 1e-6
            down = loss_of(net, x, t)
            weight[index] = old
            grad[index] = (up - down) / 2e-6
        numeric[name] = grad
    before = {name: getattr(net, name).copy() for name in names}
    net._step(x, t)
    for name in names:
        step = getattr(net, name) - before[name]
        assert np.allclose(step, -lr * numeric[name], rtol=1e-4, atol=1e-10), name
    if activation == "sigmoid":  # the tutorial's network has no biases
        assert not net.bh.any() and not net.bo.any()


def test_relu_network_overfits_a_tiny_set(mnist):
    (x_train, y_train), _ = mnist
    net = NeuralNetWork(784, 64, 10, 0.1, activation="relu", momentum=0.9, seed=0)
    net.fit(x_train[:200], y_train[:200], epochs=30, batch_size=20)
    assert net.score(x_train[:200], y_train[:200])[1] == 1.0
    assert net.history_[-1].loss < 0.05 < net.history_[0].loss


def test_fit_on_a_slice_of_real_mnist_learns(small_mnist):
    """Integration: 3,000 real training images, 2 epochs: both activations far above chance (10%)."""
    (x_train, y_train), (x_test, y_test) = small_mnist
    for activation, lr, batch in (("relu", 0.05, 32), ("sigmoid", 0.1, 1)):
        net = NeuralNetWork(784, 100, 10, lr, activation=activation, momentum=0.9 if batch > 1 else 0, seed=0)
        epochs = []
        net.fit(x_train, y_train, epochs=2, batch_size=batch, validation=(x_test, y_test), on_epoch=epochs.append)
        assert epochs[-1].test_accuracy > 0.8, (activation, epochs[-1])
        assert epochs[-1].loss < epochs[0].loss
        assert net.info.epochs == 2 and net.info.batch_size == batch and net.info.train_samples == 3000


def test_callbacks_report_progress_and_can_stop(small_mnist):
    (x_train, y_train), _ = small_mnist
    x, y = x_train[:1000], y_train[:1000]
    net = NeuralNetWork(784, 32, 10, 0.1, activation="relu", seed=0)
    seen = []
    net.fit(x, y, epochs=2, batch_size=100, on_batch=seen.append)
    assert [p.samples_seen for p in seen] == list(range(100, 2001, 100))
    assert seen[-1].fraction == 1.0 and seen[0].total_samples == 2000
    assert all(0 <= p.accuracy <= 1 and p.loss > 0 for p in seen)

    after_one = NeuralNetWork(784, 32, 10, 0.1, activation="relu", seed=0).fit(x, y, epochs=1, batch_size=100)
    stopped = NeuralNetWork(784, 32, 10, 0.1, activation="relu", seed=0)
    stopped.fit(x, y, epochs=3, batch_size=100, on_batch=lambda p: p.samples_seen >= 1500)
    # Stopped half-way through epoch 2: the weights are those at the end of epoch 1.
    assert stopped.stopped_ and stopped.info.epochs == 1
    assert np.array_equal(stopped.wih, after_one.wih)

    by_epoch = NeuralNetWork(784, 32, 10, 0.1, activation="relu", seed=0)
    by_epoch.fit(x, y, epochs=5, batch_size=100, on_epoch=lambda p: p.epoch == 2)
    assert by_epoch.info.epochs == 2 and len(by_epoch.history_) == 2


def test_predictions_are_probabilities(mnist):
    x_test = mnist[1][0][:20]
    for net in (NeuralNetWork(784, 30, 10, 0.1, seed=0), NeuralNetWork(784, 30, 10, 0.1, activation="relu", seed=0)):
        proba = net.predict_proba(x_test)
        assert proba.shape == (20, 10) and proba.dtype == np.float32
        assert np.allclose(proba.sum(axis=1), 1, atol=1e-5) and proba.min() >= 0
        assert np.array_equal(net.predict(x_test), proba.argmax(axis=1))
        assert np.allclose(net.predict_proba(x_test.astype(np.float32) / 255), proba, atol=1e-6)


@pytest.mark.parametrize("args, kwargs, message", [
    ((784, 0, 10, 0.1), {}, "hiddennodes"),
    ((784, 100.5, 10, 0.1), {}, "hiddennodes"),
    ((784, 100, 10, -0.1), {}, "learningrate"),
    ((784, 100, 10, 0.1), {"activation": "tanh"}, "activation"),
    ((784, 100, 10, 0.1), {"momentum": 1.0}, "momentum"),
])
def test_bad_settings_are_refused(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        NeuralNetWork(*args, **kwargs)


def test_fit_refuses_bad_data():
    net = NeuralNetWork(784, 10, 10, 0.1)
    images = np.zeros((5, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="labels must be digits 0-9"):
        net.fit(images, np.array([1, 2, 3, 4, 10]))
    with pytest.raises(ValueError, match=r"shaped \(5,\)"):
        net.fit(images, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="epochs"):
        net.fit(images, np.arange(5), epochs=0)
    with pytest.raises(ValueError, match="float images must be in"):
        net.fit(images.astype(np.float32) + 2, np.arange(5))


def test_save_and_load_round_trip(tmp_path, small_mnist):
    (x_train, y_train), (x_test, _) = small_mnist
    net = NeuralNetWork(784, 40, 10, 0.1, activation="relu", momentum=0.9, seed=4)
    net.fit(x_train[:500], y_train[:500], epochs=1, batch_size=50)
    path = net.save(tmp_path / "net.npz")
    back = load_model(path)
    assert isinstance(back, NeuralNetWork)
    assert back.info == net.info and back.config == net.config
    assert np.array_equal(back.predict_proba(x_test), net.predict_proba(x_test))
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]  # no temporary file left behind


def test_the_shipped_default_model_scores_at_least_98_percent(mnist):
    model = load_model()
    assert model.info.engine == "numpy" and model.info.test_accuracy >= 0.98
    x_test, y_test = mnist[1]
    assert np.mean(model.predict(x_test) == y_test) >= 0.98


def test_tutorial_loops_run_unchanged_against_our_class(tmp_path, mnist):
    """The tutorial's own training and scoring code, on 3,000/500 CSV rows in dataset/."""
    (x_train, y_train), (x_test, y_test) = mnist
    export_csv(x_train[:3000], y_train[:3000], tmp_path / "dataset" / "mnist_train.csv")
    export_csv(x_test[:500], y_test[:500], tmp_path / "dataset" / "mnist_test.csv")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run([sys.executable, str(TUTORIAL / "loops.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    performance = float(done.stdout.strip().splitlines()[-1].split("=")[1])
    assert performance > 0.85  # 3,000 samples x 5 epochs; the full set gives about 97%


# ---------------------------------------------------------------------------- Adam and the cosine schedule


def test_adams_first_step_moves_every_weight_by_the_learning_rate(small_mnist):
    """At step 1 Adam's mean over root-mean-square is the gradient's sign: each weight moves by lr."""
    (x_train, y_train), _ = small_mnist
    net = NeuralNetWork(784, 20, 10, 0.01, activation="relu", seed=0, optimizer="adam")
    before = [w.copy() for w in (net.wih, net.who, net.bo)]
    net.fit(x_train[:8], y_train[:8], epochs=1, batch_size=8)
    for old, new in zip(before, (net.wih, net.who, net.bo)):
        moved = np.abs(new - old)
        # lr * g / (|g| + eps): a weight moves by lr unless its gradient is as small as eps (1e-8)
        assert moved.max() <= 0.01 * 1.001 and np.median(moved[moved > 1e-6]) == pytest.approx(0.01, rel=1e-3)
    assert (np.abs(net.who - before[1]) > 1e-6).any()


def test_cosine_schedule_shrinks_the_step_to_nothing(small_mnist, monkeypatch):
    (x_train, y_train), _ = small_mnist
    net = NeuralNetWork(784, 20, 10, 0.1, activation="relu", seed=0, schedule="cosine")
    scales = []
    real = NeuralNetWork._update
    monkeypatch.setattr(NeuralNetWork, "_update",
                        lambda self, scale, *rest: (scales.append(scale), real(self, scale, *rest)))
    net.fit(x_train[:400], y_train[:400], epochs=2, batch_size=10)
    assert len(scales) == 80 and scales[0] == pytest.approx(0.1 / 10)
    assert all(a >= b for a, b in zip(scales, scales[1:])) and scales[-1] < 0.0001 / 10 * 10
    assert scales[40] == pytest.approx(0.1 / 10 * 0.5, rel=1e-6)  # halfway: half the step
    assert net._step_scale == 1.0  # the tutorial's train() afterwards takes the full step


def test_adam_and_schedule_are_saved_and_old_files_load_with_the_defaults(tmp_path, small_mnist):
    (x_train, y_train), (x_test, _) = small_mnist
    net = NeuralNetWork(784, 30, 10, 0.002, activation="relu", seed=1, optimizer="adam", schedule="cosine")
    net.fit(x_train[:500], y_train[:500], epochs=3, batch_size=25)
    assert (net.predict(x_test[:200]) == small_mnist[1][1][:200]).mean() > 0.6  # it learns (chance: 0.1)
    back = load_model(net.save(tmp_path / "adam.npz"))
    assert (back.config.optimizer, back.config.schedule) == ("adam", "cosine")
    assert np.array_equal(back.predict_proba(x_test), net.predict_proba(x_test))
    shipped = load_model(FIRST_MLP)  # saved before these settings existed
    assert "optimizer" not in shipped.info.settings or shipped.info.settings["optimizer"] == "sgd"
    assert (shipped.config.optimizer, shipped.config.schedule) == ("sgd", "constant")
    with pytest.raises(ValueError, match="optimizer must be one of .*got 'rmsprop'"):
        NeuralNetWork(784, 10, 10, 0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="schedule must be one of .*got 'step'"):
        NeuralNetWork(784, 10, 10, 0.1, schedule="step")
