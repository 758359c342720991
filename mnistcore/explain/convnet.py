"""What a convolutional network sees: its first layer's filters, and the feature maps of one image.

Works for both convnets: Keras' (keras-io's mnist_convnet) and the NumPy one, which gives its own
`conv_filters()` and `feature_maps(image)`. A feature map is one filter's answer at every place
of the image, after ReLU: bright where the image has what the filter looks for.
"""
from __future__ import annotations

import numpy as np

from ..nets.base import DigitModel, as_batch
from ..nets.registry import FEATURE_MAPS, network_of
from .imagine import remembered

MAPS_SHOWN = 8  # feature maps per layer: the strongest


def is_convnet(model: DigitModel) -> bool:
    """Is this one of our convolutional networks (Keras or NumPy): has it feature maps to show?"""
    return FEATURE_MAPS in network_of(model.info).views


def conv_filters(model: DigitModel) -> np.ndarray:
    """The first convolution's filters as (filters, h, w) weights, e.g. (32, 3, 3)."""
    if not is_convnet(model):
        raise ValueError(f"a {model.info.architecture} model has no convolution filters")
    if network_of(model.info).tensorflow:  # a Keras model: its layers hold the weights
        layer = next(layer for layer in model.model.layers if layer.__class__.__name__ == "Conv2D")
        kernel = layer.get_weights()[0]                          # (h, w, 1 channel in, filters)
        return np.moveaxis(kernel[..., 0, :], -1, 0)
    return np.asarray(model.conv_filters(), np.float32)


def feature_maps(model: DigitModel, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Each convolution's output for one image: [(layer name, (h, w, filters) float32 >= 0)].

    `image`: one (28, 28) image, uint8 or float in [0, 1]. For keras-io's convnet that is
    [("conv1", (26, 26, 32)), ("conv2", (11, 11, 64))].
    """
    x = as_batch(image)
    if len(x) != 1:
        raise ValueError(f"feature_maps takes one image, got {len(x)}")
    if not is_convnet(model):
        raise ValueError(f"a {model.info.architecture} model has no feature maps")
    if network_of(model.info).tensorflow:
        outputs = remembered(model, "feature maps", lambda: _keras_feature_model(model))(x.reshape(1, 28, 28, 1))
        return [(f"conv{i}", np.asarray(out)[0]) for i, out in enumerate(outputs, start=1)]
    return [(name, np.asarray(maps, np.float32)) for name, maps in model.feature_maps(x.reshape(28, 28))]


def strongest_maps(maps: np.ndarray, count: int = MAPS_SHOWN) -> tuple[np.ndarray, np.ndarray]:
    """The `count` maps with the highest mean, strongest first, as (count, h, w) images in [0, 1],
    and their filter numbers. All are scaled by the brightest of them, so a weak map looks weak.

    `maps`: one layer's (h, w, filters) output, as `feature_maps` gives it.
    """
    if maps.ndim != 3:
        raise ValueError(f"maps must be shaped (h, w, filters), got {maps.shape}")
    strongest = np.argsort(maps.mean(axis=(0, 1)))[::-1][:count]
    chosen = np.moveaxis(maps[..., strongest], -1, 0)           # (count, h, w)
    top = chosen.max()
    return (chosen / top if top > 0 else chosen).astype(np.float32), strongest


def _keras_feature_model(model):
    """A Keras model from the network's input to each convolution's output (built once per model)."""
    import keras  # already imported: the model is a Keras one
    network = model.model
    convs = [layer.output for layer in network.layers if layer.__class__.__name__ == "Conv2D"]
    feature_model = keras.Model(inputs=network.inputs, outputs=convs)
    return lambda x: feature_model.predict_on_batch(x)
