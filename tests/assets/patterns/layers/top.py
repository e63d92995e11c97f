import keras

from patterns.layers.mid import Mid


@keras.saving.register_keras_serializable(package="patterns")
class Top(Mid):
    def __init__(self, units, **kwargs):
        super(Top, self).__init__(units, **kwargs)

    def call(self, x):
        return keras.ops.tanh(super().call(x))
