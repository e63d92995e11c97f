"""``SnapshotCheckpoint``: ``keras.callbacks.ModelCheckpoint``'s conventions, writing snapshots."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import keras

from snapshot import keras_compat
from snapshot.archive.manifest import CheckpointRecord
from snapshot.archive.writer import check_destination
from snapshot.checkpoint.background import BackgroundWriter
from snapshot.checkpoint.rotation import Rotation
from snapshot.checkpoint.session import CheckpointSession
from snapshot.config import SnapshotConfig
from snapshot.errors import CheckpointError

_LOG = logging.getLogger("snapshot.checkpoint")


class SnapshotCheckpoint(keras.callbacks.Callback):  # type: ignore[misc]
    """Save snapshot archives while the model trains, ready to resume from.

    Takes the arguments of ``keras.callbacks.ModelCheckpoint`` with the same
    meaning: ``filepath`` may hold ``{epoch}``, ``{batch}`` (when ``save_freq``
    counts batches) and log placeholders (``"ckpt-{epoch:02d}-{val_loss:.3f}.snapshot"``);
    ``save_best_only`` saves only when ``monitor`` improves in ``mode``
    (``"auto"``, ``"min"``, ``"max"``) past ``initial_value_threshold``;
    ``save_freq`` is ``"epoch"`` or a number of batches; ``verbose=1`` prints
    what it does.

    Besides: ``keep_last=N`` keeps only the N newest checkpoints this callback
    wrote; ``background=True`` copies the weights to host memory on the
    training thread and writes the archive on another, so ``fit`` does not
    wait for the disk (it waits only when the previous checkpoint is still
    being written). The run's first checkpoint is verified in a fresh
    interpreter (``verify=False`` skips it); later ones reuse its module while
    the code and the weights' layout are unchanged. ``inputs``, ``config``,
    ``intern`` and ``extern`` are passed on as to :func:`snapshot.save`.

    Archives are written atomically: an interrupted run leaves every earlier
    checkpoint whole and no partial one.
    """

    def __init__(
        self,
        filepath: str | Path,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
        *,
        keep_last: int | None = None,
        background: bool = False,
        verify: bool = True,
        inputs: Any = None,
        config: Mapping[str, Any] | None = None,
        intern: Iterable[str] = (),
        extern: Iterable[str] = (),
    ) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise CheckpointError(f"mode must be 'auto', 'min' or 'max', not {mode!r}")
        if save_freq != "epoch" and not (
            isinstance(save_freq, int)
            and not isinstance(save_freq, bool)
            and save_freq > 0
        ):
            raise CheckpointError(
                f"save_freq must be 'epoch' or a positive number of batches, not {save_freq!r}"
            )
        if keep_last is not None and (
            not isinstance(keep_last, int)
            or isinstance(keep_last, bool)
            or keep_last < 1
        ):
            raise CheckpointError(
                f"keep_last must be a positive number, not {keep_last!r}"
            )
        self.filepath = str(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.mode = mode
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self.keep_last = keep_last
        self.background = background
        self._session = CheckpointSession(
            inputs=inputs,
            config=config,
            options=SnapshotConfig(intern=tuple(intern), extern=tuple(extern)),
            verify=verify,
        )
        self._writer = BackgroundWriter()
        self._rotation = Rotation(keep_last)
        self._epoch = 0
        self._batches_since_save = 0
        self._last_batch: int | None = None

    # Keras hooks ------------------------------------------------------------------

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(
        self, batch: int, logs: Mapping[str, Any] | None = None
    ) -> None:
        if self.save_freq == "epoch":
            return
        # With steps_per_execution=N, Keras reports every Nth batch only.
        seen = (
            batch + 1
            if self._last_batch is None or batch <= self._last_batch
            else batch - self._last_batch
        )
        self._last_batch = batch
        self._batches_since_save += seen
        if self._batches_since_save >= int(self.save_freq):
            self._batches_since_save = 0
            self._checkpoint(self._epoch, batch, logs or {})

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._last_batch = None
        if self.save_freq == "epoch":
            self._checkpoint(epoch, None, logs or {})

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        # fit() returns with every checkpoint on disk, or with the error of the one that failed.
        self._writer.close()

    # Saving ------------------------------------------------------------------------

    def _checkpoint(
        self, epoch: int, batch: int | None, logs: Mapping[str, Any]
    ) -> None:
        path = self._path(epoch, batch, logs)
        if not self._improved(epoch, logs, path):
            return
        if self.verbose > 0 and not self.save_best_only:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        check_destination(path, layout="zip", overwrite=True)
        record = CheckpointRecord(
            epoch=epoch + 1,
            batch=None if batch is None else batch + 1,
            logs=_numeric(logs),
        )
        # The previous checkpoint finishes first: checkpoints appear in order,
        # and the next one knows whether the module it verified is reusable.
        self._writer.wait()
        job = self._session.capture(self.model, path, record)

        def write_and_rotate() -> None:
            job()
            self._rotation.written(path)

        if self.background:
            self._writer.submit(write_and_rotate)
        else:
            write_and_rotate()

    def _path(self, epoch: int, batch: int | None, logs: Mapping[str, Any]) -> Path:
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return Path(self.filepath.format(**fields))
        except (KeyError, IndexError, ValueError) as error:
            raise CheckpointError(
                f"cannot fill in filepath {self.filepath!r}: {type(error).__name__}: "
                f"{error} (known: {', '.join(sorted(fields))})"
            ) from None

    def _improved(self, epoch: int, logs: Mapping[str, Any], path: Path) -> bool:
        """Whether to save now: always, or with ``save_best_only`` on improvement."""
        if not self.save_best_only:
            return True
        current = logs.get(self.monitor)
        if current is None:
            _LOG.warning(
                "can save the best model only with %s available; saving", self.monitor
            )
            return True
        current = float(current)
        better = _better(self._direction(), current, self.best)
        if self.verbose > 0:
            best = "None" if self.best is None else f"{self.best:.5f}"
            print(
                f"\nEpoch {epoch + 1}: {self.monitor} "
                + (
                    f"improved from {best} to {current:.5f}, saving model to {path}"
                    if better
                    else f"did not improve from {best}"
                )
            )
        if better:
            self.best = current
        return better

    def _direction(self) -> str:
        """``min`` or ``max``: how ``monitor`` improves."""
        if self.mode != "auto":
            return self.mode
        name = self.monitor.removeprefix("val_")
        if name == "loss" or name.endswith("_loss"):
            return "min"
        found = keras_compat.metric_direction(self.model, name)
        if found is None:
            raise CheckpointError(
                f"cannot tell whether {self.monitor} should be minimized or maximized; "
                "pass mode='min' or mode='max'"
            )
        return "max" if found == "up" else "min"


def _better(direction: str, current: float, best: float | None) -> bool:
    if best is None:
        return True
    return current < best if direction == "min" else current > best


def _numeric(logs: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers among ``logs``, for the manifest (JSON has no NaN)."""
    found = {}
    for name, value in logs.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            found[str(name)] = number
    return found
