from tensorflow import keras
from tensorflow.keras import layers


class Gate(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.proj = layers.Dense(units, activation="sigmoid")

    def call(self, x):
        return x * self.proj(x)
