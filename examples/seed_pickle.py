"""Seed article, Example 1: a simple subclassed model.

The article pickles the class to "save the architecture"; that still needs this
file at load time. ``snapshot model examples/seed_pickle.py:MyModel`` does not.
"""

import numpy as np
import tensorflow as tf


class MyModel(tf.keras.Model):
    def __init__(self):
        super(MyModel, self).__init__()
        self.dense1 = tf.keras.layers.Dense(64, activation="relu")
        self.dense2 = tf.keras.layers.Dense(10)

    def call(self, inputs):
        x = self.dense1(inputs)
        return self.dense2(x)


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
