"""A training script that imports keras-snapshot only at its end.

The model is made and trained before ``import snapshot``; ``Tower`` keeps its
arguments in no attribute and has no ``get_config()``, so only the call the
startup hook recorded gives them back. argv[1]: the folder to save into.
"""

import sys
from pathlib import Path

import numpy as np
from late_models import Tower

out = Path(sys.argv[1])
x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
model = Tower(5, depth=2)
model.compile(optimizer="sgd", loss="mse")
model.fit(x, np.ones((4, 2), "float32"), epochs=2, verbose=0)

import snapshot  # noqa: E402  (late, on purpose)

snapshot.save(model, out / "tower.snapshot")
np.savez(out / "expected.npz", x=x, y=np.asarray(model(x)))
