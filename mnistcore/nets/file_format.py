"""The saved-model file format's markers and limits: every name and every bound, spelled once.

Both engines save one zip archive:
- NumPy: an `.npz` of the weight arrays plus `info.npy`, the `ModelInfo` as JSON text (the MLP's
  wih, who, bh, bo; the convnet's w1, b1, w2, b2, w3, b3, its settings marked "arch": "cnn");
- Keras: Keras' own `.keras` archive (with its `config.json`) plus `mnistlab.json`, our `ModelInfo`.
`saved` checks a file against these limits before it can cost memory; `keras_checks` does the
same for what a Keras config declares.
"""
from __future__ import annotations

import numpy as np

NUMPY_INFO_ENTRY = "info.npy"        # np.savez's name for the `info` array
NUMPY_WEIGHTS = ("wih", "who", "bh", "bo")  # the weight arrays, each saved as "<name>.npy", float32
NUMPY_WEIGHT_DTYPE = np.dtype(np.float32)
NUMPY_SIZES = {"inputnodes": "inputs", "hiddennodes": "hidden units", "outputnodes": "outputs"}  # in settings
# The NumPy convnet (numpy_cnn.ConvNet): settings["arch"] == "cnn" (MLP files have no "arch").
CNN_ARCH = "cnn"
CNN_WEIGHTS = ("w1", "b1", "w2", "b2", "w3", "b3")  # conv, conv, dense; Keras' layouts; float32
CNN_SIZES = {"filters1": "filters in the first convolution", "filters2": "filters in the second"}
KERAS_INFO_ENTRY = "mnistlab.json"   # added by us to Keras' archive
KERAS_CONFIG_ENTRY = "config.json"   # written by Keras itself
KERAS_WEIGHTS_ENTRY = "model.weights.h5"  # written by Keras itself

# Generous for any network the lab trains (the Train page allows up to 1024 hidden units; the
# Keras MLP has 0.4 M parameters, the convnet 35 k), small enough that no file can cost much.
MAX_UNITS = 4096                 # nodes in any layer, filters in any convolution
MAX_PARAMETERS = 4_000_000       # weights in one network: 16 MB of float32 (784-4096-10 has 3.26 M)
MAX_LAYER_OUTPUTS = 50_000       # values one Keras layer outputs per image (the convnet's largest: 21,632)
MAX_WINDOW = 28                  # a convolution kernel, pooling window or stride: at most an image wide
MAX_METADATA_BYTES = 64 * 1024   # info.npy and every .json entry (a few KB in practice)
# The whole archive, uncompressed: the weights three times over (Keras saves Adam's two slots per
# weight beside it), plus room for headers and metadata. Also the most a file may weigh on disk.
MAX_ARCHIVE_BYTES = 3 * 4 * MAX_PARAMETERS + 1024 * 1024
MAX_ENTRIES = 16                 # files in the archive (NumPy MLP: 5, convnet: 7, Keras: 4)
MAX_DIRECTORY_BYTES = 64 * 1024  # the archive's list of files (ours: under 1 KB)
NPY_HEADER_BYTES = 4096          # read of each .npy member to find its header (ours are 128 bytes)

# What a Keras file of ours may hold (keras_net.build_network uses only these): the layers, by
# the shape they take, and every other object its config.json names. Keras builds anything its
# config names, so anything else is refused before Keras sees it.
KERAS_MODEL = "Sequential"
KERAS_LAYERS = ("InputLayer", "Dense", "Conv2D", "MaxPooling2D", "Flatten", "Dropout")
KERAS_OBJECTS = ("DTypePolicy", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "Zeros", "Ones",
                 "RandomNormal", "RandomUniform", "RMSprop", "Adam", "SGD")
