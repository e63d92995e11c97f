import keras

from spellings.layers import Gate


class SpelledNet(keras.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(units)
        self.gate = Gate(units)

    def call(self, x):
        return self.gate(self.inner(x))
