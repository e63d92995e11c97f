"""How the generated module spells a class or function that a value refers to."""

from __future__ import annotations

from collections.abc import Callable

from snapshot.analysis.rewrite import RewrittenSource
from snapshot.capture import values
from snapshot.config import SnapshotConfig


def reference_spelling(
    rewritten: RewrittenSource, *, config: SnapshotConfig
) -> Callable[[values.Ref], str]:
    """``keras.layers.Dense`` for Keras' public API, ``MyLayer`` for extracted code.

    Keras' public names go through the module's ``import keras``; any other
    name is the one the rewrite gave it (an import or an extracted definition).
    """

    def name_of(ref: values.Ref) -> str:
        path = values.keras_path(ref)
        if path is not None:
            return ".".join((rewritten.keras_name, *path))
        key = values.reference_key(ref, config=config)
        return ref.name if key is None else rewritten.name_of(key)

    return name_of
