import h5py
import keras

from zoo.constants import SCALE


class ScaledDense(keras.layers.Dense):
    """A Dense layer whose output is scaled by a module constant."""

    def call(self, inputs):
        return super().call(inputs) * SCALE


def export_kernel(layer, path):
    # Only this helper needs h5py; the snapshot must not import it.
    with h5py.File(path, "w") as handle:
        handle["kernel"] = layer.kernel.numpy()
