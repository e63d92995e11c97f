"""The Keras-example pattern: data loaded and a layer adapted at module level.

Importing this module reads features.npy beside it; a snapshot must not.
"""

from pathlib import Path

import keras
import numpy as np

FEATURES = np.load(Path(__file__).with_name("features.npy"))
NORMALIZER = keras.layers.Normalization()
NORMALIZER.adapt(FEATURES)
AUGMENT = keras.Sequential(
    [keras.layers.GaussianNoise(0.3), keras.layers.Dropout(0.5)], name="augment"
)


class NormalizedRegressor(keras.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(AUGMENT(NORMALIZER(x))))
