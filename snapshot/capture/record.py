"""Remember the arguments each Keras layer and model was constructed with.

Keras 3 drops them (``Model.__new__`` does not pass them on, so ``get_config()``
reports the defaults). The recorder wraps ``keras.Model.__new__`` to keep each
call, weakly keyed by the instance: at once when Keras is already imported,
otherwise as soon as it is, so ``import snapshot`` itself stays cheap.

It is armed at interpreter start by the startup hook installed with the package
(``_keras_snapshot_hook``, which calls :func:`watch_keras_import` at the first
lookup of ``keras``), so it does not matter when ``import snapshot`` runs;
``import snapshot`` arms it too, for interpreters that skip the hook.
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


def watch_keras_import(
    fullname: str, path: Any, target: ModuleType | None
) -> importlib.machinery.ModuleSpec | None:
    """Arm the recorder during the lookup of ``keras``; answer that lookup.

    The startup hook calls this from its own ``find_spec``: the spec returned
    carries the loader that installs the recorder once Keras has run.
    """
    install()
    for finder in sys.meta_path:
        if isinstance(finder, _KerasImportWatcher):
            return finder.find_spec(fullname, path, target)
    return None  # Keras was already loaded: install() wrapped it


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
    # Initializers, regularizers and constraints passed to layers, and what
    # compile() is given (losses, metrics, learning-rate schedules), are rebuilt
    # from their calls too. Their bases take object.__new__, which refuses
    # arguments once __new__ is overridden, so it is called without them.
    for owner in (
        keras_module.initializers.Initializer,
        keras_module.regularizers.Regularizer,
        keras_module.constraints.Constraint,
        keras_module.losses.Loss,
        keras_module.metrics.Metric,
        keras_module.optimizers.schedules.LearningRateSchedule,
    ):
        if "__new__" in vars(owner):
            continue
        owner.__new__ = staticmethod(_recording(_plain_new))


def _plain_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def _recording(original_new: Any) -> Any:
    def recording_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance = original_new(cls, *args, **kwargs)
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
