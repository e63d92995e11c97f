import keras


class L1Budget(keras.regularizers.Regularizer):
    def __init__(self, budget=0.01):
        self.budget = budget

    def __call__(self, weights):
        return self.budget * keras.ops.sum(keras.ops.abs(weights))

    def get_config(self):
        return {"budget": self.budget}
