import keras

from fitted.numbers import EPSILON


class ScaledSquaredError(keras.losses.Loss):
    """Squared error times ``scale``; the scale must survive the snapshot."""

    def __init__(self, scale, name="scaled_squared_error", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


def huberish(y_true, y_pred):
    """A loss function, not a class: extracted by name."""
    error = keras.ops.abs(y_true - y_pred)
    return keras.ops.mean(keras.ops.sqrt(1.0 + error * error) - 1.0 + EPSILON, axis=-1)
