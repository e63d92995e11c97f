"""A model whose classes are in the code Python runs directly, not in a file.

Run as ``python -c "$(cat typed_model.py)" OUT`` or ``python - OUT < typed_model.py``:
no file names the classes, so keras-snapshot reads them back from
``sys.orig_argv`` or from standard input. argv[1]: the folder to save into.
"""

import sys
from pathlib import Path

import keras
import numpy as np

import snapshot

SHIFT = 0.25


def squash(x):
    return keras.ops.tanh(x) + SHIFT


class Wobble(keras.layers.Layer):
    def build(self, input_shape):
        self.amplitude = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return squash(x) * self.amplitude


def gate(x):
    return x * keras.ops.sigmoid(x)


class Typed(keras.Model):
    def __init__(self, width, activation):
        super().__init__()
        self.dense = keras.layers.Dense(width, activation=activation)
        self.wobble = Wobble()

    def call(self, x):
        return self.wobble(self.dense(x))


out = Path(sys.argv[1])
x = np.random.default_rng(3).normal(size=(2, 3)).astype("float32")
model = Typed(6, activation=gate)
model(x)


# Defined again after the model was made, as a notebook cell re-run with edits:
# the model calls squash by name, so it takes this one; its Dense layer holds
# the first gate.
def squash(x):
    return keras.ops.tanh(x) * 2.0 + SHIFT


def gate(x):  # noqa: F811
    return x


snapshot.save(model, out / "typed.snapshot")
np.savez(out / "expected.npz", x=x, y=np.asarray(model(x)))
