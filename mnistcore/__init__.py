"""MNIST Lab's core: data, preprocessing, the NumPy and Keras networks, the model store.

Importing this package is cheap: TensorFlow is imported only where a Keras model is built or
loaded (mnistcore.keras_net).
"""
__version__ = "0.1.0"
