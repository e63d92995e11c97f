"""Benchmark checkpointing during fit: SnapshotCheckpoint against ModelCheckpoint(".keras").

Run: python bench/bench_checkpoint.py [--epochs N] [--only NAME]

For each model (a residual MLP at three widths, trained with Adam on random
data; it has a get_config() so that .keras can save it) one fit run per
callback, each checkpointing every epoch:
  keras       keras.callbacks.ModelCheckpoint("ckpt-{epoch}.keras")
  snapshot    snapshot.SnapshotCheckpoint("ckpt-{epoch}.snapshot")
  background  the same with background=True
It prints the seconds each callback blocked training at an epoch's end:
the first checkpoint (for snapshot: generating and verifying the module) and
the median of the later ones, and their ratios to ModelCheckpoint's median.
`flush` is what on_train_end waited for the last background write; `fit` the
whole run; `archive` and `.keras` the checkpoint sizes.
Then snapshot.save(verify=False) against model.save("x.keras") on the same
models, medians of --repeat runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from timing import median_seconds

import snapshot

#: name -> (width, rows of training data): an epoch long enough for a
#: background write to finish before the next one is due.
MODELS = {
    "net_w64": (64, 2048),
    "net_w512": (512, 4096),
    "net_w2048": (2048, 4096),
}


class Net(keras.Model):  # type: ignore[misc]
    """A residual MLP: a stem, two residual blocks, a linear head."""

    def __init__(self, width: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = width
        self.stem = keras.layers.Dense(width, activation="tanh")
        self.blocks = [keras.layers.Dense(width, activation="relu") for _ in range(2)]
        self.head = keras.layers.Dense(1)

    def call(self, inputs: Any) -> Any:
        x = self.stem(inputs)
        for block in self.blocks:
            x = x + block(x)
        return self.head(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "width": self.width}


class Timed(keras.callbacks.Callback):  # type: ignore[misc]
    """Runs ``inner`` and times what each of its hooks blocks training for."""

    def __init__(self, inner: keras.callbacks.Callback) -> None:
        super().__init__()
        self.inner = inner
        self.epoch_end: list[float] = []
        self.train_end = 0.0

    def set_model(self, model: keras.Model) -> None:
        super().set_model(model)
        self.inner.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        self.inner.set_params(params)

    def on_train_begin(self, logs: Any = None) -> None:
        self.inner.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.inner.on_epoch_begin(epoch, logs)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.inner.on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        start = time.perf_counter()
        self.inner.on_epoch_end(epoch, logs)
        self.epoch_end.append(time.perf_counter() - start)

    def on_train_end(self, logs: Any = None) -> None:
        start = time.perf_counter()
        self.inner.on_train_end(logs)
        self.train_end = time.perf_counter() - start


def _model(width: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = Net(width)
    model.compile(optimizer="adam", loss="mse")
    return model


def _data(rows: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(rows, 16)).astype("float32")
    return x, np.sin(x.sum(axis=1, keepdims=True)).astype("float32")


def _run(
    width: int, rows: int, epochs: int, make: Callable[[Path], Any]
) -> tuple[Timed, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        timed = Timed(make(Path(folder)))
        x, y = _data(rows)
        model = _model(width)
        start = time.perf_counter()
        model.fit(x, y, epochs=epochs, batch_size=64, verbose=0, callbacks=[timed])
        fit = time.perf_counter() - start
        size = max(p.stat().st_size for p in Path(folder).iterdir())
    return timed, fit, size


def _params(width: int) -> int:
    model = _model(width)
    model(np.zeros((1, 16), "float32"))
    return int(model.count_params())


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    callbacks = {
        "keras": lambda folder: keras.callbacks.ModelCheckpoint(
            str(folder / "ckpt-{epoch}.keras")
        ),
        "snapshot": lambda folder: snapshot.SnapshotCheckpoint(
            folder / "ckpt-{epoch}.snapshot"
        ),
        "background": lambda folder: snapshot.SnapshotCheckpoint(
            folder / "ckpt-{epoch}.snapshot", background=True
        ),
    }
    print(
        f"{'model':<17}{'params':>10}{'callback':>11}{'first':>8}{'later':>8}"
        f"{'ratio':>7}{'flush':>7}{'fit':>7}{'size':>11}"
    )
    for name, (width, rows) in MODELS.items():
        if args.only not in name:
            continue
        reference = None
        for kind, make in callbacks.items():
            timed, fit, size = _run(width, rows, args.epochs, make)
            later = _median(timed.epoch_end[1:])
            reference = later if reference is None else reference
            params = _params(width) if kind == "keras" else ""
            print(
                f"{name:<17}{params!s:>10}{kind:>11}{timed.epoch_end[0]:>8.3f}"
                f"{later:>8.4f}{later / reference:>7.2f}{timed.train_end:>7.3f}"
                f"{fit:>7.2f}{size:>11}",
                flush=True,
            )
    print(f"\n{'model':<17}{'save':>8}{'.keras':>8}{'ratio':>7}")
    for name, (width, rows) in MODELS.items():
        if args.only not in name:
            continue
        x, y = _data(rows)
        model = _model(width)
        model.fit(x[:256], y[:256], epochs=1, batch_size=64, verbose=0)
        with tempfile.TemporaryDirectory() as folder:
            archive, keras_file = Path(folder) / "m.snapshot", Path(folder) / "m.keras"
            snapshot.save(model, archive, verify=False, overwrite=True)
            save = median_seconds(
                lambda m=model, a=archive: snapshot.save(
                    m, a, verify=False, overwrite=True
                ),
                args.repeat,
            )
            keras_save = median_seconds(
                lambda m=model, k=keras_file: m.save(k), args.repeat
            )
        print(f"{name:<17}{save:>8.4f}{keras_save:>8.4f}{save / keras_save:>7.2f}")


if __name__ == "__main__":
    main()
