import json

import keras
from keras import ops

from .constants import GELU_COEF


def gelu(x):
    return 0.5 * x * (1.0 + ops.tanh(GELU_COEF * (x + 0.044715 * ops.power(x, 3))))


def swish(x):
    return x * ops.sigmoid(x)


# Looked up by string at run time: the whole registry comes along.
ACTIVATIONS = {"gelu": gelu, "relu": keras.activations.relu}
ACTIVATIONS["swish"] = swish


def get_activation(name):
    return ACTIVATIONS[name]


def dump_registry(path):
    with open(path, "w") as handle:
        json.dump(sorted(ACTIVATIONS), handle)
