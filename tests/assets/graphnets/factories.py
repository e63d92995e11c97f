"""Factories: the user keeps the returned model, never the factory."""

import keras

from graphnets.activations import scaled_tanh
from graphnets.blocks import encoder_block
from graphnets.constraints import ClipTo
from graphnets.initializers import ScaledNormal
from graphnets.layers import Scale, SplitHalves
from graphnets.regularizers import L1Budget

VOCABULARY = ["the", "cat", "sat", "on", "mat"]


def make_text_classifier(vocabulary=VOCABULARY, width=8, classes=3):
    """Raw strings in, class probabilities out."""
    text = keras.Input(shape=(4,), dtype="string", name="text")
    ids = keras.layers.StringLookup(vocabulary=vocabulary, name="lookup")(text)
    vectors = keras.layers.Embedding(len(vocabulary) + 1, width, name="embedding")(ids)
    pooled = keras.layers.GlobalAveragePooling1D(name="pool")(vectors)
    hidden = Scale(name="scale")(pooled)
    outputs = keras.layers.Dense(classes, activation="softmax", name="classes")(hidden)
    return keras.Model(text, outputs, name="text_classifier")


def make_sequential(features=5):
    # Named layers: automatic names depend on what the process made before.
    return keras.Sequential(
        [
            keras.Input(shape=(features,), name="features"),
            keras.layers.Dense(
                6,
                activation=scaled_tanh,
                kernel_initializer=ScaledNormal(0.5, seed=3),
                kernel_regularizer=L1Budget(0.001),
                kernel_constraint=ClipTo(2.0),
                name="hidden",
            ),
            keras.layers.BatchNormalization(name="norm"),
            Scale(2.0, name="gain"),
            keras.layers.Dense(2, name="out"),
        ],
        name="tiny_sequential",
    )


def make_multi_output(features=4):
    """One Dense layer shared by two inputs, and two heads."""
    left = keras.Input(shape=(features,), name="left")
    right = keras.Input(shape=(features,), name="right")
    shared = keras.layers.Dense(6, name="shared")
    both = keras.layers.Concatenate(name="join")([shared(left), shared(right)])
    first, second = SplitHalves(name="halves")(both)
    total = keras.ops.add(first, second) * 0.5
    score = keras.layers.Dense(1, name="score")(total)
    label = keras.layers.Dense(3, activation="softmax", name="label")(second)
    return keras.Model([left, right], [score, label], name="two_heads")


def make_dict_model():
    """Dict inputs and dict outputs."""
    inputs = {
        "image": keras.Input(shape=(6,), name="image"),
        "meta": keras.Input(shape=(2,), name="meta"),
    }
    image = keras.layers.Dense(4, activation="relu", name="image_dense")(inputs["image"])
    merged = keras.layers.concatenate([image, inputs["meta"]], name="merged")
    outputs = {
        "price": keras.layers.Dense(1, name="price")(merged),
        "kind": keras.layers.Dense(2, activation="softmax", name="kind")(merged),
    }
    return keras.Model(inputs, outputs, name="dict_model")


def make_stacked(units=4):
    """A functional model used as a layer of another."""
    inputs = keras.Input(shape=(units,), name="features")
    block = encoder_block(units, name="inner_block")
    x = block(inputs)
    x = block(x)
    outputs = keras.layers.Dense(2, name="head")(x)
    return keras.Model(inputs, outputs, name="stacked")
