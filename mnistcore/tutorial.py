"""The tutorial's entry point: `from mnistcore.tutorial import NeuralNetWork`.

The tutorial's own loops call `numpy.asfarray`, which NumPy 2.0 removed. Importing this module
puts it back as NumPy 1.x had it, only where it is missing, so those loops run unchanged. Nothing
else in MNIST Lab imports this module: the site and the CLI never touch NumPy's namespace.
"""
import numpy as np

from .nets.numpy_net import NeuralNetWork

__all__ = ["NeuralNetWork"]


def _asfarray(a, dtype=np.float64):
    """NumPy 1.x's asfarray: `a` as an array of floats; a dtype that is not a float means float64."""
    if not np.issubdtype(dtype, np.inexact):
        dtype = np.float64
    return np.asarray(a, dtype=dtype)


if not hasattr(np, "asfarray"):
    np.asfarray = _asfarray
