import keras


class BaseModel(keras.Model):
    """Shared head logic; the chain Classifier -> BaseModel -> keras.Model."""

    def head(self, x):
        return keras.ops.softmax(x)
