"""Models whose construction and call signatures are more than plain numbers."""

import dataclasses
import enum

import keras
from keras import ops


@dataclasses.dataclass(frozen=True)
class BlockConfig:
    units: int
    dropout: float = 0.0


class Pooling(enum.Enum):
    MEAN = "mean"
    MAX = "max"


def scaled_tanh(x):
    return 1.7159 * ops.tanh(0.6666 * x)


class MLP(keras.Model):
    """The Keras-bug case: ``.keras`` records units=8, the default, not 32."""

    def __init__(self, units=8, depth=1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = [keras.layers.Dense(units, activation="relu") for _ in range(depth)]
        self.out = keras.layers.Dense(1)

    def call(self, x):
        for layer in self.hidden:
            x = layer(x)
        return self.out(x)


class Mixed(keras.Model):
    """A required argument, a non-default one and a default one."""

    def __init__(self, width, depth=1, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.layers_ = [keras.layers.Dense(width, use_bias=use_bias) for _ in range(depth)]

    def call(self, x):
        for layer in self.layers_:
            x = layer(x)
        return x


class Configured(keras.Model):
    """A frozen dataclass, a tuple, an enum and a first-party activation function."""

    def __init__(self, config, kernel_sizes=(1, 1), pooling=Pooling.MEAN, activation=None):
        super().__init__()
        self.config = config
        self.pooling = pooling
        self.dense = keras.layers.Dense(
            config.units,
            activation=activation,
            kernel_initializer=keras.initializers.GlorotUniform(seed=3),
            kernel_regularizer=keras.regularizers.L2(1e-4),
        )
        self.dropout = keras.layers.Dropout(config.dropout)
        self.kernel_sizes = kernel_sizes

    def call(self, x, training=None):
        x = self.dropout(self.dense(x), training=training)
        if self.pooling is Pooling.MEAN:
            return ops.mean(x, axis=-1, keepdims=True) * len(self.kernel_sizes)
        return ops.max(x, axis=-1, keepdims=True)


class Encoder(keras.Model):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units, activation="relu")

    def call(self, x):
        return self.dense(x)


class Segmenter(keras.Model):
    """Takes another model (and a layer) as constructor arguments."""

    def __init__(self, encoder, head, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.head = head

    def call(self, x):
        return self.head(self.encoder(x))


class TokenTagger(keras.Model):
    """Dict inputs (int tokens, int mask), dict outputs."""

    def __init__(self, vocabulary=20, units=4, **kwargs):
        super().__init__(**kwargs)
        self.embedding = keras.layers.Embedding(vocabulary, units)
        self.tagger = keras.layers.Dense(3)
        self.norm = keras.layers.BatchNormalization()

    def call(self, inputs, training=None):
        mask = ops.cast(inputs["mask"], "float32")[..., None]
        hidden = self.norm(self.embedding(inputs["tokens"]), training=training) * mask
        return {"tags": self.tagger(hidden), "pooled": ops.sum(hidden, axis=1)}


class PairModel(keras.Model):
    """A list input and a tuple output."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.left = keras.layers.Dense(2)
        self.right = keras.layers.Dense(3)

    def call(self, inputs):
        first, second = inputs
        return self.left(first), self.right(second)


class Lazy(keras.Model):
    """Sub-layers created in build(), sized by the input: model.build(shape) is not enough.

    (Keras 3 forbids creating state inside call(), so build() is where lazy
    layers live.)
    """

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.expand = keras.layers.Dense(input_shape[-1] * 2)
        self.project = keras.layers.Dense(self.units)

    def call(self, x):
        return self.project(self.expand(x))


class Initialized(keras.Model):
    """Keras objects as constructor arguments."""

    def __init__(self, initializer, regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            3, kernel_initializer=initializer, kernel_regularizer=regularizer
        )

    def call(self, x):
        return self.dense(x)
