"""Train with SnapshotCheckpoint and die by SIGKILL while checkpoint N is being written.

Usage: python checkpoint_until_killed.py FOLDER N background|foreground

``ZipFile.writestr`` is wrapped to see the members land in the zip the
checkpoint writer makes, wherever it makes it. Once the Nth checkpoint's
weights are in it, and before its manifest is, the process kills itself: the
archive is half-written on disk when it dies, as in a crash or an OOM kill.
"""

import os
import signal
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import snapshot  # noqa: E402
from fitted import Regressor, ScaledSquaredError  # noqa: E402

folder, die_at, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
weights_written = []
writestr = zipfile.ZipFile.writestr


def writestr_then_die(archive, info, data, *args, **kwargs):
    writestr(archive, info, data, *args, **kwargs)
    name = info.filename if isinstance(info, zipfile.ZipInfo) else info
    if name == "model.weights.h5":
        weights_written.append(archive.filename)
        if len(weights_written) == die_at:
            archive.fp.flush()  # the bytes so far reach the file, as a crash leaves them
            os.kill(os.getpid(), signal.SIGKILL)


zipfile.ZipFile.writestr = writestr_then_die
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
