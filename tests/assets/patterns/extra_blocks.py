import keras

from patterns.registry import register_block


@register_block("gated")
class GatedBlock(keras.layers.Layer):
    """Registered from another module: found through the live registry."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.gate = keras.layers.Dense(units, activation="sigmoid")

    def call(self, x):
        return x * self.gate(x)
