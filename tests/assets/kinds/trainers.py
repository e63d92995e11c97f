"""A VAE-like trainer wrapper: sub-models and a train_step, no call() of its own."""

import keras
from keras import ops


class Sampling(keras.layers.Layer):
    """Draws z from (mean, log variance), at inference too."""

    def __init__(self, seed=1337, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mean, log_variance = inputs
        epsilon = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_variance) * epsilon


class Encoder(keras.Model):
    def __init__(self, latent_dim=2, hidden=8, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(hidden, activation="relu")
        self.mean = keras.layers.Dense(latent_dim)
        self.log_variance = keras.layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, x):
        h = self.hidden(x)
        mean, log_variance = self.mean(h), self.log_variance(h)
        return mean, log_variance, self.sampling([mean, log_variance])


class Decoder(keras.Model):
    def __init__(self, features, hidden=8, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(hidden, activation="relu")
        self.out = keras.layers.Dense(features, activation="sigmoid")

    def call(self, z):
        return self.out(self.hidden(z))


class VAE(keras.Model):
    """Holds an encoder and a decoder; trains them together in train_step."""

    def __init__(self, encoder, decoder, beta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.beta = beta
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            mean, log_variance, z = self.encoder(data)
            reconstruction = self.decoder(z)
            loss = ops.mean(ops.square(data - reconstruction))
            kl = -0.5 * ops.mean(1 + log_variance - ops.square(mean) - ops.exp(log_variance))
            total = loss + self.beta * kl
        grads = tape.gradient(total, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total)
        return {"loss": self.total_loss_tracker.result()}


def train(features=6, steps=2):
    import numpy as np

    data = np.random.default_rng(3).uniform(size=(16, features)).astype("float32")
    vae = VAE(Encoder(latent_dim=2), Decoder(features), beta=0.5)
    vae.compile(optimizer="adam")
    vae.fit(data, epochs=steps, batch_size=8, verbose=0)
    return vae
