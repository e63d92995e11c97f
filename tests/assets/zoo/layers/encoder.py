import keras

from ..activations import get_activation


class Encoder(keras.layers.Layer):
    def __init__(self, units, activation="gelu", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = get_activation(activation)
        self.dense = keras.layers.Dense(units)

    def call(self, inputs):
        return self.activation(self.dense(inputs))
