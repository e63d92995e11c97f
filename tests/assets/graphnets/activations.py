import keras

#: LeCun's scaled tanh.
AMPLITUDE = 1.7159


def scaled_tanh(x):
    return AMPLITUDE * keras.ops.tanh(2.0 / 3.0 * x)
