"""State Keras keeps outside the weights: the files a layer's ``save_assets()`` writes.

Adapted ``StringLookup``, ``IntegerLookup`` and ``TextVectorization`` layers and
keras-hub tokenizers hold their vocabularies this way; ``save_weights`` drops
them. Keras' own ``.keras`` saving walks the model's attributes and calls
``save_assets(folder)`` on every layer that has it; so does this module. Each
such layer is found by an attribute path from its root (``model.preprocessor
.tokenizer``), written as the Python expression that reaches it in the rebuilt
model, so the generated module needs no walk of its own.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from snapshot.errors import ModelStateError, one_line


@dataclass(frozen=True)
class AssetLayer:
    """One layer with assets: how to reach it, and the files it wrote."""

    #: Python expression reaching the layer from its root (``model.lookup``).
    path: str
    #: File names, in order.
    file_names: tuple[str, ...]
    #: The files' bytes, aligned with ``file_names``.
    contents: tuple[bytes, ...] = field(default=(), repr=False, compare=False)


def find_asset_layers(root: Any, *, root_name: str) -> tuple[AssetLayer, ...]:
    """Every layer reachable from ``root`` that saves assets, with what it saves.

    Breadth first, public attributes before private ones, so each layer is
    named by its shortest, most readable path; a layer reached twice is saved
    once, as Keras does. A layer with assets saves its parts' too
    (``TextVectorization`` its lookup): its sub-layers are not visited.
    """
    found = []
    for path, layer in _walk(root, root_name, stop=_saves_assets):
        if _saves_assets(layer):
            names, contents = _saved_files(layer, path)
            if names:
                found.append(AssetLayer(path, names, contents))
    return tuple(found)


def _saves_assets(layer: Any) -> bool:
    return callable(getattr(layer, "save_assets", None))


def to_bytes(layers: list[tuple[str, AssetLayer]]) -> bytes:
    """The ``assets.npz`` member: each file as a ``uint8`` array named ``<key>/<file>``.

    ``layers`` pairs each layer with the key the generated module loads it by.
    """
    arrays = {
        f"{key}/{name}": np.frombuffer(data, dtype=np.uint8)
        for key, layer in layers
        for name, data in zip(layer.file_names, layer.contents, strict=True)
    }
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _saved_files(layer: Any, path: str) -> tuple[tuple[str, ...], tuple[bytes, ...]]:
    with tempfile.TemporaryDirectory(prefix="snapshot-assets-") as folder:
        try:
            layer.save_assets(folder)
        except Exception as error:
            raise ModelStateError(
                f"{path} ({type(layer).__name__}) failed to save its assets: "
                f"{type(error).__name__}: {one_line(error)}"
            ) from error
        files = sorted(Path(folder).rglob("*"))
        nested = [f for f in files if f.is_dir()]
        if nested:
            raise ModelStateError(
                f"{path} ({type(layer).__name__}) saves its assets in a folder "
                f"({nested[0].name}), which snapshots do not store"
            )
        return (
            tuple(f.name for f in files),
            tuple(f.read_bytes() for f in files),
        )


def _walk(
    root: Any, root_name: str, *, stop: Callable[[Any], bool]
) -> Iterator[tuple[str, Any]]:
    """``(path, layer)`` for ``root`` and every layer reachable through attributes.

    The children of a layer for which ``stop`` is true are not visited.
    """
    seen = {id(root)}
    level: list[tuple[str, Any]] = [(root_name, root)]
    while level:
        following: list[tuple[str, Any]] = []
        for path, obj in level:
            if isinstance(obj, keras.layers.Layer):
                yield path, obj
                if stop(obj):
                    continue
            for child_path, child in _children(path, obj):
                if id(child) not in seen:
                    seen.add(id(child))
                    following.append((child_path, child))
        level = following


def _children(path: str, obj: Any) -> list[tuple[str, Any]]:
    """Layers and containers of layers held by ``obj``, with their paths."""
    if isinstance(obj, keras.layers.Layer):
        items = sorted(vars(obj).items(), key=lambda item: item[0].startswith("_"))
        return [
            (_attribute_path(path, obj, name), value)
            for name, value in items
            if _may_hold_layers(value)
        ]
    if isinstance(obj, dict):
        return [
            (f"{path}[{key!r}]", value)
            for key, value in obj.items()
            if isinstance(key, (str, int)) and _may_hold_layers(value)
        ]
    return [
        (f"{path}[{index}]", value)
        for index, value in enumerate(obj)
        if _may_hold_layers(value)
    ]


def _may_hold_layers(value: Any) -> bool:
    if isinstance(value, keras.metrics.Metric):
        return False
    return isinstance(value, (keras.layers.Layer, list, tuple, dict))


def _attribute_path(path: str, obj: Any, name: str) -> str:
    """``path.name``; a private attribute read through its public property if it has one.

    keras-hub keeps ``self._tokenizer`` behind a ``tokenizer`` property.
    """
    public = name.lstrip("_")
    if public != name and public.isidentifier():
        if isinstance(getattr(type(obj), public, None), property):
            try:
                if getattr(obj, public) is vars(obj)[name]:
                    return f"{path}.{public}"
            except Exception:  # a property that fails is no alias
                pass
    if not name.isidentifier():
        return f"getattr({path}, {name!r})"
    return f"{path}.{name}"
