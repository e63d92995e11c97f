import keras


class Gate(keras.layers.Layer):
    """``x * sigmoid(w * x)``: a learned gate kept in a file, used from a notebook."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * keras.ops.sigmoid(self.w * x)
