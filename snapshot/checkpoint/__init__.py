"""Checkpoints during training: a Keras callback writing snapshot archives."""

from snapshot.checkpoint.callback import SnapshotCheckpoint

__all__ = ["SnapshotCheckpoint"]
