import keras

from fitted.layers import Residual


class Regressor(keras.Model):
    """Two residual blocks and a linear head."""

    def __init__(self, width, outputs=1, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.stem = keras.layers.Dense(width, activation="tanh")
        self.blocks = [Residual(width), Residual(width)]
        self.head = keras.layers.Dense(outputs)

    def call(self, inputs):
        x = self.stem(inputs)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class NoisyRegressor(keras.Model):
    """Gaussian noise and dropout in training: random generators with state."""

    def __init__(self, width, rate=0.3, **kwargs):
        super().__init__(**kwargs)
        self.stem = keras.layers.Dense(width, activation="tanh")
        self.noise = keras.layers.GaussianNoise(0.1)
        self.drop = keras.layers.Dropout(rate)
        self.head = keras.layers.Dense(1)

    def call(self, inputs, training=False):
        x = self.noise(self.stem(inputs), training=training)
        return self.head(self.drop(x, training=training))
