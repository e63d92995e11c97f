import keras


def check_units(units):
    if units % 2:
        raise ValueError(f"units must be even, not {units}")


class RaisesInInit(keras.Model):
    def __init__(self, units=3):
        super().__init__()
        check_units(units)
        self.dense = keras.layers.Dense(units)

    def call(self, x):
        return self.dense(x)


class WithoutCall(keras.Model):
    """A trainer-style model without call(): Keras' message comes in colour."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)


MODEL = WithoutCall()
