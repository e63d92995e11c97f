"""A module-level adapted layer read as a default value: at import, before it is remade."""

import keras

NORMALIZER = keras.layers.Normalization(mean=1.0, variance=4.0)


class NormalizedByDefault(keras.Model):
    def __init__(self, normalizer=NORMALIZER, **kwargs):
        super().__init__(**kwargs)
        self.normalizer = normalizer
        self.dense = keras.layers.Dense(2)

    def build(self, input_shape):
        # Built eagerly: a Normalization with a given mean first built inside
        # Keras' symbolic build keeps a tensor of that graph ("out of scope").
        self.normalizer.build(input_shape)
        self.dense.build(input_shape)

    def call(self, x):
        return self.dense(self.normalizer(x))
