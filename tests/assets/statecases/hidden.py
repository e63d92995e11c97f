import keras


class Encoder(keras.Model):
    """Keeps ``units`` as an attribute; ``width`` and ``depth`` only shape its layers."""

    def __init__(self, units, width, depth, activation="relu"):
        super().__init__()
        self.units = units
        self.blocks = [
            keras.layers.Dense(width, activation=activation) for _ in range(depth)
        ]
        self.head = keras.layers.Dense(units)

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class Shifted(keras.Model):
    """Keeps an attribute named like its parameter, holding something else."""

    def __init__(self, units):
        super().__init__()
        self.units = units + 1
        self.dense = keras.layers.Dense(units)

    def call(self, x):
        return self.dense(x)
