"""A module-level value computed by reading a file: stored as data, never re-read."""

from pathlib import Path

import keras
from keras import ops

VOCABULARY = Path(__file__).with_name("vocabulary.txt").read_text().split()


class VocabularyClassifier(keras.Model):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.lookup = keras.layers.StringLookup(vocabulary=VOCABULARY)
        self.embedding = keras.layers.Embedding(len(VOCABULARY) + 1, units)
        self.out = keras.layers.Dense(2)

    def call(self, tokens):
        return self.out(ops.mean(self.embedding(self.lookup(tokens)), axis=1))
