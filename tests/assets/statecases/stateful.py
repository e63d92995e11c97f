import keras
import numpy as np

# Module-level state: adapted by the training code, not part of the weights.
NORMALIZER = keras.layers.Normalization()


class UsesGlobalNormalizer(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(NORMALIZER(x))


def train():
    NORMALIZER.adapt(np.arange(12, dtype="float32").reshape(4, 3) * 7.0)
    model = UsesGlobalNormalizer()
    model(np.ones((2, 3), "float32"))
    return model
