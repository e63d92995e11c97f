"""A model whose modules spell Keras three ways: keras, tensorflow.keras, tf.keras."""

from spellings.model import SpelledNet

__all__ = ["SpelledNet"]
