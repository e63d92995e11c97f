import keras

SCALE = 1 / 0


class Net(keras.Model):
    def call(self, x):
        return x * SCALE
