import keras

SCALE = 2.0


def double(x):
    return x * SCALE


class Block(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)

    def call(self, x):
        return double(self.dense(x))
