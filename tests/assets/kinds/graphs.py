"""A graph model whose graph (features, edges, edge weights) comes as constructor data."""

import keras
from keras import ops


class GraphNet(keras.Model):
    """Two rounds of weighted message passing over a fixed graph, then a classifier.

    Called on a batch of node ids; returns the logits of those nodes.
    """

    def __init__(self, features, edges, edge_weights, classes=3, units=8, **kwargs):
        super().__init__(**kwargs)
        self.features = ops.convert_to_tensor(features)
        self.senders = ops.convert_to_tensor(edges[:, 0])
        self.receivers = ops.convert_to_tensor(edges[:, 1])
        self.edge_weights = ops.convert_to_tensor(edge_weights)
        self.nodes = int(features.shape[0])
        self.first = keras.layers.Dense(units, activation="relu")
        self.second = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(classes)

    def propagate(self, h):
        messages = ops.take(h, self.senders, axis=0) * self.edge_weights[:, None]
        return ops.segment_sum(messages, self.receivers, num_segments=self.nodes)

    def call(self, node_ids):
        h = self.first(self.propagate(self.features))
        h = self.second(self.propagate(h))
        return self.out(ops.take(h, node_ids, axis=0))


def make_graph(nodes=64, features=5, edges=5000, seed=0):
    """Random features (a tensor), edges and edge weights (arrays; the weights > 4,096)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    node_features = ops.convert_to_tensor(
        rng.normal(size=(nodes, features)).astype("float32")
    )
    edge_list = rng.integers(0, nodes, size=(edges, 2)).astype("int32")
    weights = rng.uniform(size=(edges,)).astype("float32")
    return node_features, edge_list, weights
