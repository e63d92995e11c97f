from __future__ import annotations

from typing import TYPE_CHECKING

import keras

import patterns.utils
from patterns import registry
from patterns.config import Mode, NetConfig
from patterns.layers.top import Top

if TYPE_CHECKING:
    from patterns.typing_only import Heavy


class PatternNet(keras.Model):
    """Uses a registry, a dataclass, an enum, closures and module attributes."""

    scale_factor = 2.0

    def __init__(self, units=8, depth=2, mode="sum", **kwargs):
        super().__init__(**kwargs)
        self.config = NetConfig(units=units, depth=depth)
        self.mode = Mode(mode)
        self.blocks = [
            registry.build_block(name, units)
            for name in ("mlp", "residual", "gated")[:depth]
        ]
        self.top = Top(units)
        self.scale = patterns.utils.make_scaler(self.scale_factor)
        self.use_fast = patterns.utils.has_fast()

    def call(self, x, heavy: Heavy | None = None) -> keras.KerasTensor:
        patterns.utils.count_call()
        h = shift(x)
        for block in self.blocks:
            h = block(h)
        h = self.top(h)
        reduce = patterns.utils.pick(self.mode)
        bonus = sum(patterns.utils.SQUARES) * (lambda v: v * OFFSET)(0.0)
        return self.scale(h) + reduce(h, axis=-1, keepdims=True) + bonus


def shift(x):
    # Defined after the class that uses it, and reads a constant defined later still.
    return x + OFFSET


OFFSET = 0.5
