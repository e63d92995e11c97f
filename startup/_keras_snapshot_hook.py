"""Arm keras-snapshot's constructor recorder at interpreter start.

``keras_snapshot_hook.pth``, installed beside this module in ``site-packages``,
imports it when Python starts. It puts one finder on ``sys.meta_path`` that
finds nothing: at the first lookup of ``keras`` it imports
:mod:`snapshot.capture.record`, which wraps Keras' constructors as Keras loads,
so every model's arguments are recorded whenever ``import snapshot`` runs. A
process that never imports Keras never imports keras-snapshot.
``KERAS_SNAPSHOT_HOOK=0`` turns the hook off.

Nothing here may import more than ``os`` and ``sys`` (both already loaded
when ``.pth`` files run; not even ``typing``, hence the string annotations):
this module costs every interpreter start.
"""

import os
import sys

#: Set to ``0`` to leave Keras alone.
ENVIRONMENT_VARIABLE = "KERAS_SNAPSHOT_HOOK"


def install() -> None:
    """Put the finder first on ``sys.meta_path``, unless turned off or there already."""
    if os.environ.get(ENVIRONMENT_VARIABLE, "1") == "0":
        return
    if any(type(finder).__name__ == "ArmOnKerasImport" for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, ArmOnKerasImport())


class ArmOnKerasImport:
    """Finds nothing itself; hands the first lookup of ``keras`` to the recorder."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> "importlib.machinery.ModuleSpec | None":  # noqa: F821
        if fullname != "keras":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            from snapshot.capture import record
        except Exception:
            # keras-snapshot removed or broken: a startup hook must never break Keras.
            return None
        return record.watch_keras_import(fullname, path, target)
