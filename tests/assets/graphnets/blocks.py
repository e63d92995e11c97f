import keras

from graphnets.layers import Scale


def encoder_block(units, name="encoder_block"):
    """A small functional model used as a block of bigger ones."""
    inputs = keras.Input(shape=(units,), name=f"{name}_in")
    x = keras.layers.Dense(units, activation="relu", name=f"{name}_dense")(inputs)
    x = Scale(0.5, name=f"{name}_scale")(x)
    return keras.Model(inputs, x, name=name)
