"""The checkpoints of one training run: the first generated and verified, the rest reusing it.

Code does not change between epochs, so the run's first checkpoint generates
the module and verifies it in a fresh interpreter; each later checkpoint
writes only new weights (the optimizer's state included), probe outputs and
manifest next to the same module bytes. A checkpoint reuses the verified
module only while the weights have the same layout (paths, shapes, dtypes),
the model is compiled with the same objects, every source file the module
came from still has the same sha256 and no notebook cell has run since;
otherwise it is generated and verified again.

Each save is split in two: :meth:`CheckpointSession.capture` runs on the
training thread and copies what it needs from the live model; the job it
returns writes the archive and can run on another thread, but must finish
before the next capture, which refills the same host arrays.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras

from snapshot import keras_compat, progress
from snapshot.analysis.session import session_cells
from snapshot.api import (
    PreparedSnapshot,
    prepare,
    training_record,
    write_prepared,
)
from snapshot.archive.manifest import (
    ArchiveManifest,
    CheckpointRecord,
    VerificationRecord,
)
from snapshot.capture import probe
from snapshot.capture.weights import CapturedWeights, LayoutEntry, WeightsCapture
from snapshot.config import SnapshotConfig
from snapshot.errors import SnapshotError

_LOG = logging.getLogger("snapshot.checkpoint")

#: Writes one checkpoint archive; returns its manifest.
CheckpointJob = Callable[[], ArchiveManifest]


@dataclass(frozen=True)
class VerifiedRun:
    """What the run's first checkpoint established, for the later ones to reuse."""

    prepared: PreparedSnapshot
    #: Where each stored variable goes, as the verified module loads it.
    layout: tuple[LayoutEntry, ...]
    #: The compile() arguments the module's compile_model() writes (compared by identity).
    compiled_with: tuple[tuple[str, Any], ...]
    #: ``(mtime, size)`` of each source file read, by path, to skip re-hashing.
    stamps: Mapping[Path, tuple[int, int]]
    #: The first checkpoint's verification, restated for later ones; None
    #: when the run does not verify.
    verification: VerificationRecord | None


class CheckpointSession:
    """Writes the checkpoints of one model, reusing the first one's verified module."""

    def __init__(
        self,
        *,
        inputs: Any = None,
        config: Mapping[str, Any] | None = None,
        options: SnapshotConfig,
        verify: bool = True,
    ) -> None:
        self._inputs = inputs
        self._config = config
        self._options = options
        self._verify = verify
        self._run: VerifiedRun | None = None
        self._weights = WeightsCapture()

    def capture(
        self, model: keras.Model, path: Path, checkpoint: CheckpointRecord
    ) -> CheckpointJob:
        """Copy what the checkpoint needs from ``model``; the job writes it at ``path``.

        Runs on the training thread. The job may run on any thread, after
        training has moved on, and must be done before the next capture.
        """
        weights = self._weights.capture(model)
        if weights is None:
            raise SnapshotError(
                "this Keras version saves weights in a way keras-snapshot cannot "
                "capture in memory; use snapshot.save in a keras.callbacks.LambdaCallback"
            )
        run = self._run
        reason = None if run is None else _why_not_reusable(run, model, weights)
        if run is not None and reason is None:
            return self._later_checkpoint(run, model, path, weights, checkpoint)
        if run is not None:
            _LOG.info("generating and verifying the module again: %s", reason)
        return self._first_checkpoint(model, path, weights, checkpoint)

    def _first_checkpoint(
        self,
        model: keras.Model,
        path: Path,
        weights: CapturedWeights,
        checkpoint: CheckpointRecord,
    ) -> CheckpointJob:
        with progress.stage("analyse"):
            prepared = prepare(
                model, inputs=self._inputs, config=self._config, options=self._options
            )
        training = training_record(model, prepared.state)
        compiled_with = _compiled_with(model)

        def job() -> ArchiveManifest:
            manifest = write_prepared(
                prepared,
                path,
                weights=weights.to_h5(),
                probe_outputs=prepared.probe,
                training=training,
                verify=self._verify,
                checkpoint=checkpoint,
                overwrite=True,
            )
            verification = manifest.verification
            if verification is not None:
                verification = replace(
                    verification,
                    method=f"{verification.method}; at {path.name}, an earlier "
                    "checkpoint of this run with the same module and weights layout",
                )
            self._run = VerifiedRun(
                prepared,
                weights.layout,
                compiled_with,
                _stamps(prepared),
                verification,
            )
            return manifest

        return job

    def _later_checkpoint(
        self,
        run: VerifiedRun,
        model: keras.Model,
        path: Path,
        weights: CapturedWeights,
        checkpoint: CheckpointRecord,
    ) -> CheckpointJob:
        prepared = run.prepared
        recorded = prepared.probe
        # The probe's outputs are the model's now: `snapshot verify` compares
        # the loaded checkpoint with them.
        outputs = probe.Probe(
            recorded.inputs, probe.run(model, prepared.state.inputs, recorded.inputs)
        )
        training = training_record(model, prepared.state)

        def job() -> ArchiveManifest:
            return write_prepared(
                prepared,
                path,
                weights=weights.to_h5(),
                probe_outputs=outputs,
                training=training,
                verify=False,
                verified=run.verification,
                checkpoint=checkpoint,
                overwrite=True,
            )

        return job


def _why_not_reusable(
    run: VerifiedRun, model: keras.Model, weights: CapturedWeights
) -> str | None:
    """Why the verified module no longer fits the model, or None when it does."""
    if weights.layout != run.layout:
        return "the weights' layout changed (a layer or the optimizer made variables)"
    now = _compiled_with(model)
    if len(now) != len(run.compiled_with) or any(
        name != then_name or value is not then_value
        for (name, value), (then_name, then_value) in zip(
            now, run.compiled_with, strict=False
        )
    ):
        return "the model was compiled again"
    stamps = _stamps(run.prepared)
    for index in run.prepared.generated.closure.modules_read:
        session = index.source.session
        if session is not None:
            # A notebook has no file to stamp; cells run since (a helper
            # redefined between two fit() calls) may change what the model does.
            if session_cells() != session.cells:
                return "cells of the session ran since"
            continue
        path = index.source.path
        if stamps.get(path) == run.stamps.get(path):
            continue
        try:
            current = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return f"{path} cannot be read any more"
        if current != index.sha256:
            return f"{path} changed"
    return None


def _compiled_with(model: keras.Model) -> tuple[tuple[str, Any], ...]:
    arguments = keras_compat.compile_arguments(model) or {}
    return tuple(sorted(arguments.items(), key=lambda item: item[0]))


def _stamps(prepared: PreparedSnapshot) -> dict[Path, tuple[int, int]]:
    found = {}
    for index in prepared.generated.closure.modules_read:
        try:
            stat = index.source.path.stat()
        except OSError:
            continue
        found[index.source.path] = (stat.st_mtime_ns, stat.st_size)
    return found
