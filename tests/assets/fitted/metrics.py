import keras


class WithinTolerance(keras.metrics.Metric):
    """Fraction of predictions within ``tolerance`` of the target."""

    def __init__(self, tolerance, name="within_tolerance", **kwargs):
        super().__init__(name=name, **kwargs)
        self.tolerance = tolerance
        self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        close = keras.ops.cast(
            keras.ops.abs(y_true - y_pred) <= self.tolerance, self.dtype
        )
        self.hits.assign_add(keras.ops.sum(close))
        self.count.assign_add(keras.ops.cast(keras.ops.size(close), self.dtype))

    def result(self):
        return self.hits / keras.ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.hits.assign(0.0)
        self.count.assign(0.0)
