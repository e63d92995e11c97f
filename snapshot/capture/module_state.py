"""Module-level values the model reads, captured as they are instead of the code that made them.

An adapted ``Normalization`` or an augmentation ``Sequential`` bound at module
level and called in ``call()`` holds state its weights do not: the statements
that made it (loading a dataset, ``adapt()``) would have to run again when the
snapshot is imported, and cannot offline. So does a value computed by reading
a file. The analysis leaves such statements out
(:class:`~snapshot.analysis.collect.CapturedName`); here each value is
described as code that remakes it (its recorded constructor call, or plain
data), and a Keras object's variables and assets are stored in the archive
and loaded back when the generated module is imported.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from snapshot.analysis.collect import CapturedName, DependencyClosure
from snapshot.capture import values
from snapshot.capture.assets import AssetLayer, find_asset_layers
from snapshot.errors import ModelStateError, UnsupportedSourceError
from snapshot.model import Problem, Reason, SymbolRef


@dataclass(frozen=True)
class CapturedValue:
    """One module-level value, as the generated module remakes it."""

    symbol: SymbolRef
    #: ``statecases.stateful:4``: where the original was bound.
    origin: str
    #: Code that remakes it: a constructor call, or plain data.
    expression: values.Expression
    #: True for a Keras layer, whose variables are stored and loaded back.
    has_variables: bool
    #: A layer's ``get_build_config()``, built from before its variables load.
    build_config: values.Expression | None = None
    #: Layers inside it that save assets, with paths from ``symbol.name``.
    assets: tuple[AssetLayer, ...] = ()
    #: What made it be stored: ``None`` for a Keras object, else the I/O.
    because: str | None = None
    #: The live value.
    value: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class ModuleState:
    """Every captured module-level value of a closure."""

    captured: tuple[CapturedValue, ...] = ()
    #: Arrays the expressions read, by key (into the archive's arrays member).
    arrays: tuple[tuple[str, np.ndarray], ...] = field(
        default=(), repr=False, compare=False
    )

    @property
    def layers(self) -> tuple[CapturedValue, ...]:
        """The captured Keras layers, whose variables the archive stores."""
        return tuple(v for v in self.captured if v.has_variables)

    def references(self) -> list[values.Ref]:
        """Every class or function the values' code names."""
        found = [
            ref
            for value in self.captured
            for expression in (value.expression, value.build_config)
            if expression is not None
            for ref in values.references(expression)
        ]
        return list(dict.fromkeys(found))


def capture_module_state(
    closure: DependencyClosure, *, arrays: values.ArrayStore
) -> ModuleState:
    """Describe every captured name of ``closure``; arrays go into ``arrays``.

    Raises UnsupportedSourceError, naming each value and where it was bound,
    when a value cannot be remade.
    """
    found, problems = [], []
    for captured in closure.captured:
        value = _live_value(captured)
        try:
            found.append(_describe(captured, value, arrays))
        except ModelStateError as error:
            problems.append(
                Problem(
                    captured.path,
                    captured.statement.first_line,
                    (
                        Reason.IMPORT_TIME_IO
                        if captured.effect
                        else Reason.UNSTORABLE_STATE
                    ),
                    _why(captured, value, error),
                )
            )
    if problems:
        raise UnsupportedSourceError(problems)
    keys = {key for value in found for key in _keys(value)}
    return ModuleState(
        tuple(found),
        tuple((key, array) for key, array in arrays.arrays.items() if key in keys),
    )


def write_variables(layers: tuple[CapturedValue, ...], path: Path) -> None:
    """Save the captured layers' variables to ``path`` as Keras' ``save_weights`` does.

    A bare ``keras.Model`` holds them in a list, in order; the generated
    module loads the file into a holder made the same way.
    """
    holder = keras.Model()
    holder.objects = [layer.value for layer in layers]
    holder.built = True
    holder.save_weights(path)


def variables_bytes(layers: tuple[CapturedValue, ...]) -> bytes:
    """The module-state member: :func:`write_variables` into memory."""
    with tempfile.TemporaryDirectory(prefix="snapshot-module-state-") as folder:
        path = Path(folder) / "module_state.weights.h5"
        write_variables(layers, path)
        return path.read_bytes()


def _live_value(captured: CapturedName) -> Any:
    module = sys.modules.get(captured.symbol.module)
    return getattr(module, captured.symbol.name, None)


def _describe(
    captured: CapturedName, value: Any, arrays: values.ArrayStore
) -> CapturedValue:
    name = captured.symbol.name
    expression = values.describe(
        value, where=f"module-level {name}", arrays=arrays, name=name
    )
    because = None if captured.effect is None else str(captured.effect)
    if not isinstance(value, keras.layers.Layer):
        return CapturedValue(
            captured.symbol,
            captured.origin,
            expression,
            has_variables=False,
            because=because,
            value=value,
        )
    build = value.get_build_config() if value.built else None
    return CapturedValue(
        captured.symbol,
        captured.origin,
        expression,
        has_variables=True,
        build_config=None if build is None else values.describe(build, where=name),
        assets=find_asset_layers(value, root_name=name),
        because=because,
        value=value,
    )


def _keys(value: CapturedValue) -> list[str]:
    found = values.stored_keys(value.expression)
    if value.build_config is not None:
        found += values.stored_keys(value.build_config)
    return found


def _why(captured: CapturedName, value: Any, error: ModelStateError) -> str:
    name = captured.symbol.name
    kind = type(value).__name__
    if captured.effect is not None:
        return f"{name} {captured.effect}, and its value, a {kind}, is not data"
    return f"{name} ({kind}) cannot be remade from its arguments: {error}"
