# Analyzed statically only: importing this module would fail.
import keras

from badzoo import helpers, no_such_name
from badzoo.missing_module import Thing

try:
    from badzoo.helpers import helper
except ImportError:
    helper = None


class AlsoBroken(keras.Model):
    def call(self, x):
        return [helpers, no_such_name, Thing, helper, x]
