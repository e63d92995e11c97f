import importlib

import keras

from badzoo import starred


class Broken(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)

    def describe(self):
        layer = globals()["CUSTOM"]
        plugin = importlib.import_module("badzoo.plugins")
        value = eval("1")
        return [layer, plugin, value, starred.uses_star(), undefined_thing]
