"""A training script whose model class lives in the script itself (``__main__``).

Run: python train_net.py OUTPUT_FOLDER
"""

import sys
from pathlib import Path

import keras
import numpy as np
from net_helpers import Block

import snapshot

OFFSET = 0.5


class Net(keras.Model):
    def __init__(self, units=4):
        super().__init__()
        self.block = Block(units)
        self.out = keras.layers.Dense(1)

    def call(self, x):
        return self.out(self.block(x)) + OFFSET


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    model = Net(units=8)
    model.compile("adam", "mse")
    model.fit(x, np.ones((4, 1)), epochs=2, verbose=0)
    snapshot.save(model, folder / "net.snapshot", inputs=x)
    np.savez(folder / "expected.npz", x=x, y=np.asarray(model(x)))
