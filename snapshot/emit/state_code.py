"""The generated module's code for state beyond the model's code and weights.

Three optional archive members hold it: stored arrays (array and tensor
arguments, module-level data), assets (what layers' ``save_assets()`` wrote:
vocabularies) and the variables of module-level Keras objects. This module
decides their names in the generated module and writes the statements that
remake each captured module-level value; ``_state.j2`` lays them out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from snapshot.analysis.rewrite import RewrittenSource
from snapshot.capture import values
from snapshot.capture.assets import AssetLayer
from snapshot.capture.module_state import CapturedValue, ModuleState
from snapshot.capture.state import ModelState
from snapshot.config import SnapshotConfig
from snapshot.emit.spelling import reference_spelling
from snapshot.model import ImportItem, SymbolRef

#: Imports the state code needs, beyond Keras and pathlib.
NUMPY = ImportItem("numpy")
TEMPFILE = ImportItem("tempfile")
#: The module-level dicts the members are read into.
ARRAYS_NAME = "ARRAYS"
ASSETS_NAME = "ASSETS"


@dataclass(frozen=True)
class ValueCode:
    """One captured module-level value, as the statement that remakes it."""

    #: ``statecases.stateful, line 4``.
    origin: str
    #: What the comment above it says it is.
    note: str
    #: ``NORMALIZER = Normalization()``.
    code: str


@dataclass(frozen=True)
class StateCode:
    """Everything ``_state.j2`` and ``_loader.j2`` lay out for stored state."""

    arrays_member: str | None = None
    assets_member: str | None = None
    module_state_member: str | None = None
    values: tuple[ValueCode, ...] = ()
    #: ``restore_module_state([...])``; empty without module-level layers.
    restore_call: str = ""
    #: ``load_assets({...})`` for module-level layers, and for the model's.
    module_assets_call: str = ""
    model_assets_call: str = ""
    numpy_name: str = "numpy"
    tempfile_name: str = "tempfile"

    def context(self) -> dict[str, Any]:
        """The template variables."""
        return {
            "arrays_member": self.arrays_member,
            "assets_member": self.assets_member,
            "module_state_member": self.module_state_member,
            "captured_values": self.values,
            "restore_call": self.restore_call,
            "module_assets_call": self.module_assets_call,
            "model_assets_call": self.model_assets_call,
            "numpy_name": self.numpy_name,
            "tempfile_name": self.tempfile_name,
        }


def needed_imports(
    state: ModelState, module_state: ModuleState
) -> tuple[ImportItem, ...]:
    """The scaffold imports the state code uses."""
    found = []
    if state.arrays or module_state.arrays or _has_assets(state, module_state):
        found.append(NUMPY)
    if _has_assets(state, module_state):
        found.append(TEMPFILE)
    return tuple(found)


def asset_layers(
    state: ModelState, module_state: ModuleState, *, names: Mapping[SymbolRef, str]
) -> list[tuple[str, AssetLayer]]:
    """Each layer with assets, under the expression reaching it in the generated module.

    The model's layers hang off ``model``; module-level ones off their name
    there (``names``), which may differ from the original one.
    """
    found = [(layer.path, layer) for layer in state.assets]
    for value in module_state.captured:
        own = names[value.symbol]
        for layer in value.assets:
            found.append((own + layer.path[len(value.symbol.name) :], layer))
    return found


def state_code(
    state: ModelState,
    module_state: ModuleState,
    rewritten: RewrittenSource,
    *,
    members: dict[str, str],
    config: SnapshotConfig,
) -> StateCode:
    """The state section of the generated module.

    ``members`` maps ``arrays``, ``assets`` and ``module_state`` to the
    member names the archive uses.
    """
    has_arrays = bool(state.arrays or module_state.arrays)
    has_assets = _has_assets(state, module_state)
    name_of = reference_spelling(rewritten, config=config)
    layers = module_state.layers
    names = {v.symbol: rewritten.name_of(v.symbol) for v in module_state.captured}
    model_keys = {layer.path for layer in state.assets}
    module_assets = [
        (key, layer)
        for key, layer in asset_layers(state, module_state, names=names)
        if key not in model_keys
    ]
    return StateCode(
        arrays_member=members["arrays"] if has_arrays else None,
        assets_member=members["assets"] if has_assets else None,
        module_state_member=members["module_state"] if layers else None,
        values=tuple(
            _value_code(v, rewritten, name_of)
            for v in sorted(module_state.captured, key=_position)
        ),
        restore_call=_restore_call(layers, rewritten, name_of) if layers else "",
        module_assets_call=_assets_call(module_assets) if module_assets else "",
        model_assets_call=(
            _assets_call([(layer.path, layer) for layer in state.assets])
            if state.assets
            else ""
        ),
        numpy_name=rewritten.name_of(NUMPY) if has_arrays or has_assets else "numpy",
        tempfile_name=rewritten.name_of(TEMPFILE) if has_assets else "tempfile",
    )


def array_reader(key: str) -> str:
    """How the generated module reads a stored array: ``ARRAYS["features"]``."""
    return f"{ARRAYS_NAME}[{key!r}]"


def _position(value: CapturedValue) -> tuple[str, int]:
    module, _, line = value.origin.rpartition(":")
    return module, int(line)


def _has_assets(state: ModelState, module_state: ModuleState) -> bool:
    return bool(state.assets) or any(v.assets for v in module_state.captured)


def _value_code(
    value: CapturedValue,
    rewritten: RewrittenSource,
    name_of: Callable[[values.Ref], str],
) -> ValueCode:
    name = rewritten.name_of(value.symbol)
    module, _, line = value.origin.rpartition(":")
    note = "" if value.because is None else f"its code {value.because}"
    code = f"{name} = {values.render(value.expression, name_of, array_reader)}"
    return ValueCode(f"{module}, line {line}", note, code)


def _restore_call(
    layers: tuple[CapturedValue, ...],
    rewritten: RewrittenSource,
    name_of: Callable[[values.Ref], str],
) -> str:
    pairs = []
    for layer in layers:
        build = (
            "None"
            if layer.build_config is None
            else values.render(layer.build_config, name_of, array_reader)
        )
        pairs.append(f"({rewritten.name_of(layer.symbol)}, {build})")
    return f"restore_module_state([{', '.join(pairs)}])"


def _assets_call(layers: list[tuple[str, AssetLayer]]) -> str:
    items = ", ".join(f"{key!r}: {key}" for key, _ in layers)
    return f"load_assets({{{items}}})"
