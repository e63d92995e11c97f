import keras

BLOCKS = {}


def register_block(name):
    def decorator(cls):
        BLOCKS[name] = cls
        return cls

    return decorator


@register_block("mlp")
class MLPBlock(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units, activation="relu")

    def call(self, x):
        return self.dense(x)


@register_block("residual")
class ResidualBlock(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)

    def call(self, x):
        return x + self.dense(x)


def build_block(name, units):
    # Looked up by string: every registered block comes along.
    return BLOCKS[name](units)


def list_blocks():
    return sorted(BLOCKS)
