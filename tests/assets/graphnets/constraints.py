import keras


class ClipTo(keras.constraints.Constraint):
    """Keeps every weight within [-limit, limit]."""

    def __init__(self, limit):
        self.limit = limit

    def __call__(self, weights):
        return keras.ops.clip(weights, -self.limit, self.limit)
