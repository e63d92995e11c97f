"""Train with SnapshotCheckpoint and die by SIGKILL while checkpoint N is being written.

Usage: python checkpoint_until_killed.py FOLDER N background|foreground

An audit hook watches the checkpoint writer open its staging zip; at the Nth
one the process kills itself, so the archive is half-written when it dies.
"""

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import snapshot  # noqa: E402
from fitted import Regressor, ScaledSquaredError  # noqa: E402

folder, die_at, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
opened = []


def kill_mid_write(event, arguments):
    if event == "open" and str(arguments[0]).endswith("archive.zip"):
        opened.append(arguments[0])
        if len(opened) == die_at:
            os.kill(os.getpid(), signal.SIGKILL)


sys.addaudithook(kill_mid_write)
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = np.sin(x.sum(axis=1, keepdims=True))
model = Regressor(8)
model.compile(optimizer="adam", loss=ScaledSquaredError(2.0))
checkpoint = snapshot.SnapshotCheckpoint(
    folder / "ckpt-{epoch}.snapshot",
    keep_last=1,
    background=mode == "background",
    verify=False,
)
model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[checkpoint])
print("not killed")
