"""Remember the arguments each Keras layer and model was constructed with.

Keras 3 drops them (``Model.__new__`` does not pass them on, so ``get_config()``
reports the defaults). ``import snapshot`` wraps ``keras.Model.__new__`` to keep
each call, weakly keyed by the instance: at once when Keras is already imported,
otherwise as soon as it is, so ``import snapshot`` itself stays cheap.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import weakref
from types import ModuleType
from typing import Any

from snapshot import keras_compat

#: Constructor calls of live models: positional and keyword arguments.
CONSTRUCTOR_CALLS: weakref.WeakKeyDictionary[
    Any, tuple[tuple[Any, ...], dict[str, Any]]
] = weakref.WeakKeyDictionary()


def recorded_call(model: Any) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """The ``(args, kwargs)`` ``model`` was constructed with, if recorded."""
    try:
        return CONSTRUCTOR_CALLS.get(model)
    except (
        TypeError
    ):  # not weakly referenceable, or unhashable (a tensor): never recorded
        return None


def install() -> None:
    """Wrap ``keras.Model.__new__`` now, or when Keras is first imported."""
    keras_module = sys.modules.get("keras")
    if keras_module is not None and hasattr(keras_module, "Model"):
        _wrap_model_new(keras_module)
    elif not any(isinstance(finder, _KerasImportWatcher) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KerasImportWatcher())


def _wrap_model_new(keras_module: ModuleType) -> None:
    # Layers too: a layer passed to a model's constructor is rebuilt from its call.
    # Model and Functional override __new__ and call the next one without the
    # arguments, so each is wrapped: the outermost wrapper records last and keeps
    # the real ones. (Keras puts Functional into the bases of a Model subclass
    # whose __init__ builds a functional graph, after its first instance.)
    owners = [keras_module.layers.Layer, keras_module.Model, keras_module.Sequential]
    functional = keras_compat.functional_class()
    if functional is not None:
        owners.append(functional)
    for owner in owners:
        # Layer inherits Operation.__new__; the others define their own.
        if owner is not keras_module.layers.Layer and "__new__" not in vars(owner):
            continue
        if getattr(vars(owner).get("__new__"), "_snapshot_recorder", False):
            continue
        owner.__new__ = staticmethod(_recording(owner.__new__))
    # What compile() is given (losses, metrics, learning-rate schedules) is
    # rebuilt from its recorded call too; these classes inherit object.__new__.
    for owner in (
        keras_module.losses.Loss,
        keras_module.metrics.Metric,
        keras_module.optimizers.schedules.LearningRateSchedule,
    ):
        if not getattr(vars(owner).get("__new__"), "_snapshot_recorder", False):
            owner.__new__ = staticmethod(_recording(object.__new__))


def _recording(original_new: Any) -> Any:
    # object.__new__ refuses the constructor's arguments once __new__ is overridden.
    passes_arguments = original_new is not object.__new__

    def recording_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        if passes_arguments:
            instance = original_new(cls, *args, **kwargs)
        else:
            instance = original_new(cls)
        try:
            CONSTRUCTOR_CALLS[instance] = (args, dict(kwargs))
        except TypeError:  # an instance that cannot be weakly referenced
            pass
        return instance

    recording_new._snapshot_recorder = True  # type: ignore[attr-defined]
    return recording_new


class _KerasImportWatcher(importlib.abc.MetaPathFinder):
    """Finds nothing itself; wraps the loader of ``keras`` to install the recorder.

    It stays on ``sys.meta_path`` until Keras is actually executed: a mere
    ``importlib.util.find_spec("keras")`` probe (TensorFlow makes one) does not
    import anything.
    """

    def find_spec(
        self, fullname: str, path: Any, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "keras":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original_exec(module)
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _wrap_model_new(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
