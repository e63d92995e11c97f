import keras
import numpy as np

# Module-level state changed by the training code: the source says 1.0, the
# live model reads 3.0. Neither a Keras object nor data read from a file, so
# the snapshot extracts the source; only verification can see the difference.
SETTINGS = {"scale": 1.0}


class ScaledBySetting(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x) * SETTINGS["scale"]


def train():
    SETTINGS["scale"] = 3.0
    model = ScaledBySetting()
    model(np.ones((2, 3), "float32"))
    return model
