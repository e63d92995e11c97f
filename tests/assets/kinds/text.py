"""Models with string inputs whose vocabularies are adapted, not passed in."""

import keras
from keras import ops

# Adapted by the training code; read in call(). Its vocabulary is an asset.
TOKENS = keras.layers.StringLookup(num_oov_indices=1)


class TokenClassifier(keras.Model):
    """Token strings in; the lookup inside the model is adapted after construction."""

    def __init__(self, classes=2, units=4, max_tokens=32, **kwargs):
        super().__init__(**kwargs)
        self.lookup = keras.layers.StringLookup(max_tokens=max_tokens)
        self.embedding = keras.layers.Embedding(max_tokens, units)
        self.out = keras.layers.Dense(classes)

    def call(self, tokens):
        ids = self.lookup(tokens)
        return self.out(ops.mean(self.embedding(ids), axis=1))


class SentenceClassifier(keras.Model):
    """Whole sentences in: TextVectorization splits and indexes them."""

    def __init__(self, classes=2, units=4, max_tokens=20, length=6, **kwargs):
        super().__init__(**kwargs)
        self.vectorize = keras.layers.TextVectorization(
            max_tokens=max_tokens, output_sequence_length=length
        )
        self.embedding = keras.layers.Embedding(max_tokens, units)
        self.out = keras.layers.Dense(classes)

    def call(self, sentences):
        return self.out(ops.mean(self.embedding(self.vectorize(sentences)), axis=1))


class GlobalTokenClassifier(keras.Model):
    """Reads the module-level lookup TOKENS in call()."""

    def __init__(self, classes=2, units=4, **kwargs):
        super().__init__(**kwargs)
        self.embedding = keras.layers.Embedding(16, units)
        self.out = keras.layers.Dense(classes)

    def call(self, tokens):
        return self.out(ops.mean(self.embedding(TOKENS(tokens)), axis=1))


SENTENCES = [
    "the quick brown fox",
    "jumps over the lazy dog",
    "a quick brown dog",
    "the lazy fox sleeps",
]


def train_token_classifier():
    import numpy as np

    model = TokenClassifier()
    tokens = np.array([s.split()[:3] for s in SENTENCES])
    model.lookup.adapt(tokens)
    model(tokens)
    return model, tokens


def train_sentence_classifier():
    import numpy as np

    model = SentenceClassifier()
    sentences = np.array(SENTENCES)
    model.vectorize.adapt(sentences)
    model(sentences)
    return model, sentences


def train_global_token_classifier():
    import numpy as np

    tokens = np.array([s.split()[:3] for s in SENTENCES])
    TOKENS.adapt(tokens)
    model = GlobalTokenClassifier()
    model(tokens)
    return model, tokens
