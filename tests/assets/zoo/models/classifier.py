from __future__ import annotations

import keras

import zoo.layers as zl
from zoo.blocks import encoder as blocks_encoder
from zoo.layers import Encoder

from ..constants import HIDDEN
from .base import BaseModel


class Classifier(BaseModel):
    def __init__(self, num_classes: int, hidden: int = HIDDEN, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.encoder = Encoder(hidden)
        self.block_encoder = blocks_encoder.Encoder(hidden)
        self.out = zl.ScaledDense(num_classes)

    def call(self, inputs) -> "keras.KerasTensor":
        return self.head(self.out(self.block_encoder(self.encoder(inputs))))


if __name__ == "__main__":
    print(Classifier(3))
