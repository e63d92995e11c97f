import keras

from graphnets.blocks import encoder_block


class Tower(keras.Model):
    """A subclassed model whose block comes from a helper returning a functional model."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.block = encoder_block(units, name="tower_block")
        self.head = keras.layers.Dense(1)

    def call(self, inputs):
        return self.head(self.block(inputs))


class Wrapper(keras.Model):
    """A subclassed model given a functional backbone as an argument."""

    def __init__(self, backbone, classes=2, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.head = keras.layers.Dense(classes)

    def call(self, inputs):
        return self.head(self.backbone(inputs))


class Pair(keras.Model):
    """Two blocks given as arguments, applied one after the other."""

    def __init__(self, first, second, **kwargs):
        super().__init__(**kwargs)
        self.first = first
        self.second = second

    def call(self, inputs):
        return self.second(self.first(inputs))
