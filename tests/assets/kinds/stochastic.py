"""Augmentation and dropout inside call(), which does not declare `training`."""

import keras


class AugmentedClassifier(keras.Model):
    def __init__(self, classes=3, rate=0.5, **kwargs):
        super().__init__(**kwargs)
        self.flip = keras.layers.RandomFlip("horizontal")
        self.zoom = keras.layers.RandomZoom(0.3)
        self.conv = keras.layers.Conv2D(4, 3, activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dropout = keras.layers.Dropout(rate)
        self.out = keras.layers.Dense(classes)

    def call(self, images):
        x = self.zoom(self.flip(images))
        return self.out(self.dropout(self.pool(self.conv(x))))
