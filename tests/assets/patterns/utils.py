import keras

from patterns.config import Mode

try:
    import not_an_installed_accelerator as fast
except ImportError:
    fast = None

_CALLS = 0
SQUARES = [i * i for i in range(4)]


def count_call():
    global _CALLS
    _CALLS += 1
    return _CALLS


def make_scaler(factor):
    def scale(x):
        return x * factor

    return scale


def has_fast():
    return fast is not None


def pick(mode):
    reducers = {Mode.SUM: keras.ops.sum, Mode.MEAN: keras.ops.mean}
    return reducers[mode]
