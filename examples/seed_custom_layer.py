"""Seed article, Example 2: a model with a custom layer.

As printed, the article's layer multiplies a ``(batch, 3)`` input by a
``(units,)`` weight; here ``build()`` creates the ``(input_dim, units)`` kernel.
"""

import numpy as np
import tensorflow as tf


class MyCustomLayer(tf.keras.layers.Layer):
    def __init__(self, units):
        super(MyCustomLayer, self).__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )

    def call(self, inputs):
        return tf.nn.relu(tf.matmul(inputs, self.w))


class MyModel(tf.keras.Model):
    def __init__(self):
        super(MyModel, self).__init__()
        self.custom_layer = MyCustomLayer(32)
        self.dense = tf.keras.layers.Dense(10)

    def call(self, inputs):
        x = self.custom_layer(inputs)
        return self.dense(x)


def train():
    """One training step, as in the article (Keras 3 takes arrays, not lists; targets widened to the 10 outputs)."""
    model = MyModel()
    model.compile(optimizer="adam", loss="mse")
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    y = np.array([[4.0, 5.0, 6.0, 0, 0, 0, 0, 0, 0, 0]], dtype="float32")
    model.fit(x, y, epochs=1, verbose=0)
    return model


if __name__ == "__main__":
    train().save_weights("my_model.weights.h5")
