"""The NumPy convnet: every layer's gradient against finite differences, its forward pass against
Keras with the same weights, training, callbacks, saving and the Look inside methods.

Gradient checks run the network in float64 (the layers work in any float dtype), so the finite
differences are exact to ~1e-7 and a wrong index anywhere shows up as a large error.
"""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from mnistcore.nets import build_model, keras_problem, load_model, winograd
from mnistcore.nets.base import ModelFileError
from mnistcore.nets.conv_layers import conv, conv_all, conv_backward, gradient_room, pool, pool_backward, pooled_side
from mnistcore.nets.numpy_cnn import CnnConfig, ConvNet
from mnistcore.nets.numpy_net import NeuralNetWork
from mnistcore.nets.saved import CNN_WEIGHTS

EPS = 1e-6


def numeric_gradient(f, array: np.ndarray, indices) -> np.ndarray:
    """Central differences of the scalar f() with respect to array[index], for each index."""
    out = []
    for index in indices:
        saved = array[index]
        array[index] = saved + EPS
        up = f()
        array[index] = saved - EPS
        down = f()
        array[index] = saved
        out.append((up - down) / (2 * EPS))
    return np.array(out)


def some_indices(shape, rng, count=25):
    """`count` random positions in an array of `shape` (all of them if fewer)."""
    every = list(np.ndindex(*shape))
    picks = rng.choice(len(every), size=min(count, len(every)), replace=False)
    return [every[i] for i in picks]


def tiny_net(seed=0, filters1=3, filters2=4, dtype=np.float64) -> ConvNet:
    net = ConvNet(CnnConfig(filters1=filters1, filters2=filters2, seed=seed))
    rng = np.random.default_rng(seed + 1)
    for name in CNN_WEIGHTS:  # biases too, so that their gradients are not checked at zero only
        weight = getattr(net, name)
        setattr(net, name, (weight + rng.normal(0, 0.1, weight.shape)).astype(dtype))
    return net


# ---------------------------------------------------------------------------- gradients, layer by layer


def im2col(x, kernel, dout=None):
    """conv_layers' convolution of x (H, W, B, C): its outputs, or with dout, (dkernel, dx)."""
    h, w = pooled_side(x.shape[0]), pooled_side(x.shape[1])
    b, c, f = x.shape[2], x.shape[3], kernel.shape[-1]
    cols = np.empty((3, 3, c, 2, 2, h, w, b), x.dtype)
    out = conv(x, kernel, cols, np.empty((2, 2, h, w, b, f), x.dtype))
    if dout is None:
        return out
    dkernel, dx = np.full_like(kernel, np.nan), np.full_like(x, np.nan)
    # Work arrays reused from an earlier call hold anything: NaN here, and none may reach dx
    conv_backward(cols, kernel, dout, dkernel, dx, [np.full(s, np.nan) for s in gradient_room(dout.shape, x.shape)])
    return dkernel, dx


def by_winograd(x, kernel, dout=None):
    """The same by winograd's F(2x2, 3x3)."""
    f = kernel.shape[-1]
    u = winograd.kernel_transform(kernel)
    work = [np.full(size, np.nan, x.dtype) for size in winograd.workspace(x.shape, f)]
    h, w = winograd.tiles(x.shape[0]), winograd.tiles(x.shape[1])
    out = winograd.conv(x, u, work, np.empty((2, 2, h, w, x.shape[2], f), x.dtype))
    if dout is None:
        return out
    dkernel, dx = np.full_like(kernel, np.nan), np.full_like(x, np.nan)
    winograd.conv_backward(work, u, dout, dkernel, dx)
    return dkernel, dx


CONVOLUTIONS = pytest.mark.parametrize("convolution", [im2col, by_winograd], ids=["im2col", "winograd"])


@CONVOLUTIONS
@pytest.mark.parametrize("batch, side", [(1, 6), (3, 7)])  # 7: pooling floors the last row and column
def test_convolution_gradients_match_finite_differences(convolution, batch, side):
    rng = np.random.default_rng(batch)
    h = pooled_side(side)
    x = rng.normal(size=(side, side + 1, batch, 2))
    kernel = rng.normal(size=(3, 3, 2, 4))
    weights = rng.normal(size=(2, 2, h, pooled_side(side + 1), batch, 4))  # the loss: sum(conv(x) * weights)

    def loss():
        return float(np.sum(convolution(x, kernel) * weights))

    dkernel, dx = convolution(x, kernel, weights)
    for array, grad in ((kernel, dkernel), (x, dx)):
        indices = some_indices(array.shape, rng, 40)
        np.testing.assert_allclose([grad[i] for i in indices], numeric_gradient(loss, array, indices),
                                   rtol=1e-6, atol=1e-8)
    if side % 2:  # the last row, which pooling floors away, gets no gradient
        assert not dx[-1].any()


def interleave(z: np.ndarray) -> np.ndarray:
    """A convolution's (2, 2, h, w, B, F) outputs in plain order: (B, 2h, 2w, F)."""
    _, _, h, w, b, f = z.shape
    return z.transpose(4, 2, 0, 3, 1, 5).reshape(b, 2 * h, 2 * w, f)


@CONVOLUTIONS
def test_convolution_computes_what_pooling_keeps_of_a_direct_sum(convolution):
    rng = np.random.default_rng(0)
    x, kernel = rng.normal(size=(2, 7, 7, 3)), rng.normal(size=(3, 3, 3, 5))  # 5 x 5 outputs, 4 x 4 kept
    out = convolution(x.transpose(1, 2, 0, 3), kernel)
    direct = np.zeros((2, 5, 5, 5))
    for i in range(5):
        for j in range(5):
            direct[:, i, j] = np.einsum("bklc,klcf->bf", x[:, i : i + 3, j : j + 3], kernel)
    np.testing.assert_allclose(interleave(out), direct[:, :4, :4], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv_all(x, kernel), direct, rtol=1e-12)
    pooled = pool(out, np.empty((2, 2, 2, 5)))
    np.testing.assert_allclose(pooled.transpose(2, 0, 1, 3),
                               direct[:, :4, :4].reshape(2, 2, 2, 2, 2, 5).max(axis=(2, 4)))


def test_winograd_agrees_with_im2col_in_float32_at_the_networks_sizes():
    rng = np.random.default_rng(0)
    x = np.maximum(rng.normal(size=(12, 12, 8, 32)), 0).astype(np.float32)  # conv1's pooled ReLU outputs
    kernel = rng.normal(0, 0.06, (3, 3, 32, 64)).astype(np.float32)
    dout = rng.normal(size=(2, 2, 5, 5, 8, 64)).astype(np.float32)
    for got, expected in zip([by_winograd(x, kernel), *by_winograd(x, kernel, dout)],
                             [im2col(x, kernel), *im2col(x, kernel, dout)]):
        scale = np.abs(expected).max()
        assert got.dtype == np.float32 and scale > 0.1
        np.testing.assert_allclose(got, expected, atol=5e-6 * scale)  # 7e-7 seen here


@pytest.mark.parametrize("batch", [1, 4])
def test_pooling_gradient_matches_finite_differences(batch):
    rng = np.random.default_rng(batch)
    z = rng.normal(size=(2, 2, batch, 3, 3, 3))
    weights = rng.normal(size=(batch, 3, 3, 3))
    pooled = np.empty_like(weights)

    def loss():
        return float(np.sum(pool(z, np.empty_like(weights)) * weights))

    pool(z, pooled)
    dz = np.full_like(z, np.nan)  # pool_backward must write every value
    pool_backward(z, pooled, weights, dz)
    in_place = z.copy()  # as training calls it, the gradient written over z
    np.testing.assert_array_equal(pool_backward(in_place, pooled, weights, in_place), dz)
    indices = list(np.ndindex(*z.shape))
    np.testing.assert_allclose(dz[tuple(np.array(indices).T)], numeric_gradient(loss, z, indices),
                               rtol=1e-6, atol=1e-8)


def test_pooling_gives_a_tied_window_its_gradient_once():
    z = np.ones((2, 2, 1, 1, 1, 1))  # a saturated stroke: four equal maxima
    dz = np.empty_like(z)
    pool_backward(z, pool(z, np.empty((1, 1, 1, 1))), np.full((1, 1, 1, 1), 5.0), dz)
    assert dz.ravel().tolist() == [5.0, 0.0, 0.0, 0.0]  # the first in reading order, as TensorFlow does
    # Three windows side by side: a tie in the middle, the maximum last, a tie at the end.
    z = np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 4.0], [3.0, 0.0, 4.0], [2.0, 7.0, 1.0]]).reshape(2, 2, 1, 1, 3, 1)
    dz = np.full_like(z, np.nan)
    pool_backward(z, pool(z, np.empty((1, 1, 3, 1))), np.array([2.0, 3.0, 4.0]).reshape(1, 1, 3, 1), dz)
    assert dz.reshape(4, 3).T.tolist() == [[0, 2, 0, 0], [0, 0, 0, 3], [0, 4, 0, 0]]


@pytest.mark.parametrize("batch", [1, 5])
def test_every_weight_gradient_of_the_whole_network_matches_finite_differences(mnist, batch):
    (x_train, y_train), _ = mnist
    net = tiny_net(seed=batch)
    x = x_train[:batch].reshape(batch, 784) / 255.0
    y = y_train[:batch].astype(np.int64)
    rng = np.random.default_rng(batch)
    keep = (rng.random((batch, net.w3.shape[0])) >= 0.5) * 2.0  # a fixed dropout mask, scaled

    def loss():
        return net._loss_gradients(x, y, keep)[0] / batch

    _, _, grads = net._loss_gradients(x, y, keep)
    grads = {name: grad.copy() for name, grad in grads.items()}
    for name in CNN_WEIGHTS:  # dense w3, b3; conv w2, b2 (through pooling); conv w1, b1 (through both)
        weight = getattr(net, name)
        indices = some_indices(weight.shape, rng)
        expected = numeric_gradient(loss, weight, indices)
        assert np.abs(expected).max() > 1e-6, f"{name}: the check would pass on zeros"
        np.testing.assert_allclose([grads[name][i] for i in indices], expected, rtol=1e-5, atol=1e-9,
                                   err_msg=name)


@pytest.mark.parametrize("batch", [1, 3])
def test_input_gradient_is_the_gradient_of_log_probability(mnist, batch):
    (x_train, _), _ = mnist
    net = tiny_net(seed=7)
    # Faint noise on the digits: on blank paper a window's four outputs tie (all equal), where
    # max-pooling has no derivative and finite differences disagree with any chosen gradient.
    noise = np.random.default_rng(batch).uniform(0, 0.05, (batch, 784))
    x = x_train[10 : 10 + batch].reshape(batch, 784) / 255.0 * 0.9 + noise
    digits = np.arange(batch) + 2
    a = net._forward(x, {})
    grad = net._backward(a, np.eye(10)[digits] - a["p"], {}, input_gradient=True)["x"]

    def log_p():
        return float(np.sum(np.log(net._forward(x, {})["p"][np.arange(batch), digits])))

    indices = some_indices(x.shape, np.random.default_rng(batch), 40)
    indices += [(0, 14 * 28 + 14)]  # the centre, where the digit is
    np.testing.assert_allclose([grad[i] for i in indices], numeric_gradient(log_p, x, indices), rtol=1e-5, atol=1e-9)
    # The public method: the same in float32, and refuses digits it cannot use.
    net32 = tiny_net(seed=7, dtype=np.float32)
    public = net32.input_gradient(x.astype(np.float32), digits)
    assert public.shape == (batch, 784) and public.dtype == np.float32
    np.testing.assert_allclose(public, grad, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="digits must be"):
        net32.input_gradient(x_train[:2], [3, 10])


# ---------------------------------------------------------------------------- the same network as Keras


@pytest.mark.skipif(keras_problem() is not None, reason=str(keras_problem()))
def test_forward_pass_matches_keras_convnet_with_copied_weights(mnist):
    from mnistcore.nets.keras_net import KerasModel

    _, (x_test, _) = mnist
    keras_model = KerasModel("cnn", seed=3)
    net = ConvNet(CnnConfig(seed=0))
    weights = keras_model.model.get_weights()  # kernel, bias of conv, conv, dense: our order and layouts
    assert [w.shape for w in weights] == [getattr(net, name).shape for name in CNN_WEIGHTS]
    for name, weight in zip(CNN_WEIGHTS, weights):
        # Keras starts its biases at zero: give them values, or a bias bug would go unseen.
        setattr(net, name, weight + np.float32(0.05) * (name.startswith("b")))
    keras_model.model.set_weights([getattr(net, name) for name in CNN_WEIGHTS])
    images = x_test[:64]
    np.testing.assert_allclose(net.predict_proba(images), keras_model.predict_proba(images), atol=2e-6)


# ---------------------------------------------------------------------------- training


def test_learns_digits_from_a_small_slice(small_mnist):
    (x_train, y_train), (x_test, y_test) = small_mnist
    net = ConvNet(CnnConfig(filters1=8, filters2=16, learning_rate=0.003, seed=0))
    net.fit(x_train, y_train, epochs=2, batch_size=32, validation=(x_test[:500], y_test[:500]))
    assert [p.epoch for p in net.history_] == [1, 2]
    assert net.history_[1].test_accuracy > 0.9  # chance is 0.10
    assert net.info.epochs == 2 and net.info.train_samples == 3000 and not net.stopped_


def test_a_batch_split_between_two_workers_has_the_whole_batch_gradients(small_mnist):
    from concurrent.futures import ThreadPoolExecutor
    from dataclasses import replace

    from mnistcore.nets.numpy_cnn import PIECE

    (x_train, y_train), _ = small_mnist
    n = 2 * PIECE + 5  # three pieces, the last a short one
    net = ConvNet(CnnConfig(filters1=4, filters2=8, seed=6))  # with dropout: each piece draws its own
    x, y = x_train[:n].reshape(n, 784) / np.float32(255), y_train[:n].astype(np.int64)
    net._buffers = [{}, {}]

    def gradients(x, y, pool, workers):
        net._rng = np.random.default_rng(1)  # the same draws for every call
        loss, predicted, grads = net._batch_gradients(x, y, pool, workers)
        return loss, predicted.copy(), {name: g.copy() for name, g in grads.items()}

    alone = gradients(x, y, None, 1)
    with ThreadPoolExecutor(1) as pool:
        shared = [gradients(x, y, pool, 2) for _ in range(3)]
    for split in shared:  # the same numbers, whichever thread took which piece
        assert split[0] == alone[0]
        np.testing.assert_array_equal(split[1], alone[1])
        for name in CNN_WEIGHTS:
            np.testing.assert_array_equal(split[2][name], alone[2][name], err_msg=name)
    # the pieces' gradients add up to the batch's: without dropout, one piece of all n gives the same
    net.config = replace(net.config, dropout=0.0)
    pieces = gradients(x, y, None, 1)
    with mock.patch("mnistcore.nets.numpy_cnn.PIECE", n):
        whole = gradients(x, y, None, 1)
    assert pieces[0] == pytest.approx(whole[0], rel=1e-6)
    for name in CNN_WEIGHTS:
        np.testing.assert_allclose(pieces[2][name], whole[2][name], rtol=1e-4, atol=1e-7, err_msg=name)
    # A batch smaller than two pieces is still shared: 9 images as 5 and 4.
    one_piece = gradients(x[:9], y[:9], None, 1)[2]
    taken = []
    net._loss_gradients = lambda xb, *rest, f=net._loss_gradients: taken.append(len(xb)) or f(xb, *rest)
    with ThreadPoolExecutor(1) as pool:
        small = gradients(x[:9], y[:9], pool, 2)[2]
    assert sorted(taken) == [4, 5]
    for name in CNN_WEIGHTS:
        np.testing.assert_allclose(small[name], one_piece[name], rtol=1e-4, atol=1e-7, err_msg=name)


def test_dropout_drops_about_its_rate_and_scales_the_rest():
    net = ConvNet(CnnConfig(filters1=4, filters2=8, dropout=0.25, seed=0))
    keep = net._dropout(500, 7, {})
    assert keep.shape == (500, 200) and keep.dtype == np.float32
    assert set(np.unique(keep)) == {0.0, np.float32(1 / 0.75)}
    assert abs(np.mean(keep == 0) - 0.25) < 0.01  # 100,000 draws: the rate within 4 standard deviations
    np.testing.assert_array_equal(net._dropout(500, 7, {}), keep)  # a piece's seed fixes its mask
    assert not np.array_equal(net._dropout(500, 8, {}), keep)
    assert ConvNet(CnnConfig(filters1=4, filters2=8, dropout=0.0))._dropout(5, None, {}) is None


def test_a_stop_mid_epoch_restores_the_last_complete_epoch(small_mnist):
    (x_train, y_train), _ = small_mnist
    x, y = x_train[:200], y_train[:200]
    net = ConvNet(CnnConfig(filters1=4, filters2=8, seed=1))
    net.fit(x, y, epochs=1, batch_size=50)
    after_one = [w.copy() for w in net._weights()]
    batches = []

    def on_batch(progress):
        batches.append(progress.samples_seen)
        return len(batches) == 3  # stop in the middle of the next epoch

    net.fit(x, y, epochs=2, batch_size=50, on_batch=on_batch)
    assert net.stopped_ and net.info.epochs == 1 and batches == [50, 100, 150]
    for weight, saved in zip(net._weights(), after_one):
        np.testing.assert_array_equal(weight, saved)
    # on_epoch returning True stops after that epoch, keeping it
    net.fit(x, y, epochs=3, batch_size=50, on_epoch=lambda p: p.epoch == 1)
    assert net.stopped_ and net.info.epochs == 2 and len(net.history_) == 2


def test_augment_is_applied_to_each_batch(small_mnist):
    (x_train, y_train), _ = small_mnist
    calls = []

    def blank(batch, rng):
        calls.append((batch.shape, batch.dtype, isinstance(rng, np.random.Generator)))
        return np.zeros_like(batch)

    net = ConvNet(CnnConfig(filters1=4, filters2=8, seed=2))
    net.fit(x_train[:100], y_train[:100], epochs=1, batch_size=40, augment=blank)
    assert calls == [((40, 784), np.float32, True)] * 2 + [((20, 784), np.float32, True)]
    # Trained on blank images only, conv1's kernels got no gradient: Adam never moved them.
    np.testing.assert_array_equal(net.w1, ConvNet(CnnConfig(filters1=4, filters2=8, seed=2)).w1)
    with pytest.raises(ValueError, match="augment must return"):
        net.fit(x_train[:10], y_train[:10], augment=lambda b, rng: b * 2.0)


# ---------------------------------------------------------------------------- building, saving, loading


def test_build_model_builds_either_numpy_network_and_names_an_unknown_arch():
    cnn = build_model("numpy", arch="cnn", learning_rate=0.002, seed=5)
    assert isinstance(cnn, ConvNet) and cnn.config.learning_rate == 0.002 and cnn.config.seed == 5
    assert cnn.info.engine == "numpy" and cnn.info.architecture == "cnn conv32-conv64-10 relu/softmax"
    assert build_model("numpy", arch="cnn").config.learning_rate == 0.001  # Adam's default, not the MLP's 0.1
    mlp = build_model("numpy", arch="mlp", hidden=16)
    assert isinstance(mlp, NeuralNetWork) and mlp.lr == 0.1 and "arch" not in mlp.info.settings
    with pytest.raises(ValueError, match="'resnet'"):
        build_model("numpy", arch="resnet")
    with pytest.raises(ValueError, match="dropout must be"):
        ConvNet(CnnConfig(dropout=1.0))


def test_save_and_load_give_identical_predictions(tmp_path, small_mnist):
    (x_train, y_train), (x_test, _) = small_mnist
    net = ConvNet(CnnConfig(filters1=4, filters2=8, seed=3)).fit(x_train[:100], y_train[:100], batch_size=50)
    path = net.save(tmp_path / "cnn.npz")
    loaded = load_model(path)
    assert isinstance(loaded, ConvNet) and loaded.info == net.info and loaded.config == net.config
    np.testing.assert_array_equal(loaded.predict_proba(x_test[:50]), net.predict_proba(x_test[:50]))
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted([*CNN_WEIGHTS, "info"])


def test_damaged_weights_and_the_wrong_engine_are_refused(tmp_path):
    net = ConvNet(CnnConfig(filters1=4, filters2=8, seed=3))
    net.w2[0, 0, 0, 0] = np.nan
    with pytest.raises(ModelFileError, match="w2 contains NaN"):
        ConvNet.load(net.save(tmp_path / "nan.npz"))
    mlp = NeuralNetWork(784, 16, 10, 0.1, activation="relu", seed=0).save(tmp_path / "mlp.npz")
    with pytest.raises(ModelFileError, match="not a NumPy convolutional network"):
        ConvNet.load(mlp)
    with pytest.raises(ModelFileError, match="saved settings are invalid"):
        NeuralNetWork.load(ConvNet(CnnConfig(filters1=4, filters2=8)).save(tmp_path / "cnn.npz"))


def test_the_first_shipped_mlp_still_loads_as_an_mlp():
    from sitetools import FIRST_MLP
    model = load_model(FIRST_MLP)
    assert isinstance(model, NeuralNetWork) and model.info.architecture.startswith("784-")


def test_predict_proba_takes_any_number_of_images_in_any_form(small_mnist):
    _, (x_test, _) = small_mnist
    net = ConvNet(CnnConfig(filters1=4, filters2=8, seed=4))
    many = net.predict_proba(x_test[:700])  # three forward passes at these filters (PREDICT_VALUES)
    assert many.shape == (700, 10) and many.dtype == np.float32
    np.testing.assert_allclose(many.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(net.predict_proba(x_test[5]), many[5:6], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(net.predict_proba(x_test[5].reshape(784) / 255.0), many[5:6], rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------- for the Look inside page


def test_filters_and_feature_maps_are_what_the_convolutions_compute(small_mnist):
    _, (x_test, _) = small_mnist
    net = tiny_net(seed=9, filters1=32, filters2=64, dtype=np.float32)
    filters = net.conv_filters()
    assert filters.shape == (32, 3, 3) and filters.dtype == np.float32
    np.testing.assert_array_equal(filters[5], net.w1[:, :, 0, 5])
    maps = net.feature_maps(x_test[0])
    assert [(name, m.shape, m.dtype) for name, m in maps] == [
        ("conv1", (26, 26, 32), np.float32), ("conv2", (11, 11, 64), np.float32)]
    image = x_test[0] / np.float32(255)
    i, j, f = 12, 9, 5  # one value of conv1, summed by hand
    by_hand = max(0.0, float(np.sum(image[i : i + 3, j : j + 3] * filters[f]) + net.b1[f]))
    assert maps[0][1][i, j, f] == pytest.approx(by_hand, rel=1e-5, abs=1e-6)
    pooled = maps[0][1][:26].reshape(13, 2, 13, 2, 32).max(axis=(1, 3))  # conv1 -> pool, as the network does
    i, j, f = 10, 10, 7  # the last row and column of conv2, which training never computes
    by_hand = max(0.0, float(np.sum(pooled[i : i + 3, j : j + 3] * net.w2[..., f]) + net.b2[f]))
    assert maps[1][1][i, j, f] == pytest.approx(by_hand, rel=1e-4, abs=1e-5)
    assert all((m >= 0).all() for _, m in maps)
    with pytest.raises(ValueError, match="one image"):
        net.feature_maps(x_test[:2])


def test_a_cosine_schedule_ends_with_tiny_steps_and_is_saved(tmp_path, small_mnist):
    (x, y), _ = small_mnist
    net = ConvNet(CnnConfig(filters1=4, filters2=8, seed=0, schedule="cosine"))
    net.fit(x[:256], y[:256], epochs=2, batch_size=64)  # 8 steps: the last at half a cosine's 7/8
    assert net._step_scale == pytest.approx(0.5 * (1 + np.cos(np.pi * 7 / 8)))
    assert load_model(net.save(tmp_path / "cosine.npz")).config.schedule == "cosine"
    with pytest.raises(ValueError, match="schedule must be constant or cosine, got 'step'"):
        CnnConfig(schedule="step").validate()
