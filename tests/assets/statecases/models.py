import keras


class StoresUnits(keras.Model):
    """Keeps its constructor argument as an attribute of the same name."""

    def __init__(self, units):
        super().__init__()
        self.units = units
        self.dense = keras.layers.Dense(units)

    def call(self, x):
        return self.dense(x)


class HidesUnits(keras.Model):
    """Uses its argument without keeping it: only a recorded call can recover it."""

    def __init__(self, width):
        super().__init__()
        self.dense = keras.layers.Dense(width)

    def call(self, x):
        return self.dense(x)


class TakesActivation(keras.Model):
    def __init__(self, activation):
        super().__init__()
        self.dense = keras.layers.Dense(2, activation=activation)

    def call(self, x):
        return self.dense(x)
