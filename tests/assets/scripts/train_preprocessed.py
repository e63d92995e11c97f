"""A training script that adapts module-level preprocessing, trains, and saves a snapshot.

Run: python train_preprocessed.py OUTPUT_FOLDER
"""

import sys
from pathlib import Path

import keras
import numpy as np

# The model package sits beside this folder, as a project's own package would.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import snapshot  # noqa: E402  (before the model's module: records constructor calls)
from kinds.preprocessing import NORMALIZER, ImageRegressor  # noqa: E402

if __name__ == "__main__":
    folder = Path(sys.argv[1])
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(8, 8, 8, 3)).astype("float32")
    NORMALIZER.adapt(images)
    model = ImageRegressor(filters=3)
    model.compile("adam", "mse")
    model.fit(images, rng.normal(size=(8, 1)), epochs=2, verbose=0)
    for variable in model.weights:
        variable.assign(rng.uniform(0.1, 0.5, size=variable.shape).astype(variable.dtype))
    snapshot.save(model, folder / "regressor.snapshot", inputs=images[:2])
    expected = np.asarray(model(images[:2], training=False))
    np.savez(folder / "expected.npz", x=images[:2], y=expected)
