import keras

from graphnets.activations import scaled_tanh


class Scale(keras.layers.Layer):
    """Multiplies by one learned value per feature."""

    def __init__(self, initial=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = initial

    def build(self, input_shape):
        self.gain = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.initial),
        )

    def call(self, inputs):
        return scaled_tanh(inputs * self.gain)


class SplitHalves(keras.layers.Layer):
    """Two outputs: the first and the second half of the features."""

    def call(self, inputs):
        half = inputs.shape[-1] // 2
        return inputs[..., :half], inputs[..., half:]
