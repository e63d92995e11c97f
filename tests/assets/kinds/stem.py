"""A module-level Sequential holding a first-party layer, read in call()."""

import keras


class Shift(keras.layers.Layer):
    def __init__(self, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def call(self, x):
        return x + self.offset

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}


STEM = keras.Sequential(
    [keras.layers.Dense(3, name="stem_dense"), Shift(0.25, name="shift")],
    name="stem",
)


class StemmedRegressor(keras.Model):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.out = keras.layers.Dense(units)

    def call(self, x):
        return self.out(STEM(x))
