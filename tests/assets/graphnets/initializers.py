import keras


class ScaledNormal(keras.initializers.Initializer):
    """Normal values scaled by a constant; its arguments live only in the call."""

    def __init__(self, scale, seed=None):
        self.scale = scale
        self.seed = seed

    def __call__(self, shape, dtype=None):
        normal = keras.initializers.RandomNormal(seed=self.seed)
        return self.scale * normal(shape, dtype=dtype)
