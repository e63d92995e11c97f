"""Train with SnapshotCheckpoint while the model's own source files change on disk.

Usage: python checkpoint_while_editing.py SOURCES OUT

SOURCES holds a copy of the ``fitted`` package, imported from there. Between
checkpoints 1 and 2 one of its files is touched (new mtime, same bytes);
between checkpoints 2 and 3 a comment is added to it (new bytes). Prints, as JSON, each checkpoint's module
sha256 and what the checkpoint logger said.
"""

import json
import logging
import os
import sys
import zipfile
from pathlib import Path

sources, out = Path(sys.argv[1]), Path(sys.argv[2])
sys.path.insert(0, str(sources))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import snapshot  # noqa: E402
from fitted import Regressor, ScaledSquaredError  # noqa: E402

said = []


class Said(logging.Handler):
    def emit(self, record):
        said.append(record.getMessage())


logging.getLogger("snapshot.checkpoint").addHandler(Said())
logging.getLogger("snapshot.checkpoint").setLevel(logging.INFO)
edited = sources / "fitted" / "layers.py"


def edit(epoch, logs):
    # Runs before the checkpoint callback at the same epoch's end.
    if epoch == 1:
        os.utime(edited, ns=(1, 1))  # same bytes, other stamp
    elif epoch == 2:
        with edited.open("a") as file:
            file.write("# edited during training\n")


x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = np.sin(x.sum(axis=1, keepdims=True))
model = Regressor(8)
model.compile(optimizer="adam", loss=ScaledSquaredError(2.0))
checkpoint = snapshot.SnapshotCheckpoint(out / "ckpt-{epoch}.snapshot", verify=False)
model.fit(
    x,
    y,
    epochs=3,
    batch_size=16,
    verbose=0,
    callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=edit), checkpoint],
)
modules = {}
for epoch in (1, 2, 3):
    with zipfile.ZipFile(out / f"ckpt-{epoch}.snapshot") as archive:
        manifest = json.loads(archive.read("snapshot.json"))
    modules[epoch] = manifest["members"][manifest["module"]]
print(json.dumps({"modules": modules, "said": said}))
