"""The use cases: save a model as a snapshot, generate its module, load it back."""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import keras

from snapshot.archive import (
    FORMAT_NAME,
    WEIGHTS_NAME,
    ArchiveManifest,
    write_archive,
)
from snapshot.collect import collect
from snapshot.config import SnapshotConfig
from snapshot.errors import NotAModelError
from snapshot.format import FormattedSource, format_source
from snapshot.loader import load_archive
from snapshot.locate import locate_class
from snapshot.model import ModelTarget
from snapshot.provenance import Provenance, describe_sources
from snapshot.render import render_module
from snapshot.rewrite import rewrite
from snapshot.state import ModelState, TensorSpec, capture_state
from snapshot.version import FORMAT_VERSION, __version__


def save(
    model: keras.Model,
    path: str | Path,
    *,
    inputs: Any = None,
    config: Mapping[str, Any] | None = None,
    intern: Iterable[str] = (),
    extern: Iterable[str] = (),
    layout: str = "zip",
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as a standalone snapshot archive at ``path`` and return the path.

    ``inputs`` is an example batch (array, or list/tuple/dict of arrays) to build
    the model on when loading; by default the input shapes Keras recorded at the
    model's first call. ``config`` gives the constructor arguments when they
    cannot be recorded. ``intern``/``extern`` are module patterns to extract or
    to keep as imports against the first-/third-party default. ``layout="dir"``
    writes the same members into a folder.
    """
    if not isinstance(model, keras.Model):
        raise NotAModelError(f"{type(model).__name__} is not a keras.Model")
    options = SnapshotConfig(intern=tuple(intern), extern=tuple(extern))
    target = locate_class(type(model))
    state = capture_state(model, inputs=inputs, config=config)
    source, provenance = generate_source(target, state, config=options)
    module_name = module_file_name(target.class_name)
    write_archive(
        Path(path),
        module_name=module_name,
        module_text=source.text,
        write_weights=lambda weights_path: model.save_weights(weights_path),
        manifest_for=lambda hashes: _manifest(
            target, state, provenance, module_name, hashes
        ),
        layout=layout,
        overwrite=overwrite,
    )
    return Path(path)


def load(path: str | Path) -> keras.Model:
    """Rebuild the model saved at ``path`` and load its weights; no original code needed."""
    return load_archive(Path(path))


def module_source(
    model: keras.Model,
    *,
    inputs: Any = None,
    config: Mapping[str, Any] | None = None,
    intern: Iterable[str] = (),
    extern: Iterable[str] = (),
) -> str:
    """The generated module ``save`` would write for ``model``, as text."""
    options = SnapshotConfig(intern=tuple(intern), extern=tuple(extern))
    state = capture_state(model, inputs=inputs, config=config)
    source, _ = generate_source(locate_class(type(model)), state, config=options)
    return source.text


def generate_source(
    target: ModelTarget, state: ModelState, *, config: SnapshotConfig
) -> tuple[FormattedSource, Provenance]:
    """The standalone module for ``target`` built as ``state`` records."""
    closure = collect(target, config=config)
    rewritten = rewrite(closure, config=config)
    provenance = describe_sources(closure.modules, record_git=config.record_git)
    rendered = render_module(
        rewritten, state, provenance, target=str(target), weights_file=WEIGHTS_NAME
    )
    return format_source(rendered), provenance


def module_file_name(class_name: str) -> str:
    """``MyModel`` → ``my_model_snapshot.py``."""
    snake = re.sub(
        r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", class_name
    ).lower()
    return f"{snake}_snapshot.py"


def _manifest(
    target: ModelTarget,
    state: ModelState,
    provenance: Provenance,
    module_name: str,
    hashes: dict[str, str],
) -> ArchiveManifest:
    return ArchiveManifest(
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        module=module_name,
        class_name=target.class_name,
        weights=WEIGHTS_NAME,
        members=hashes,
        versions={
            "python": platform.python_version(),
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
            "keras_snapshot": __version__,
        },
        source={
            "module": target.module.name,
            "class": target.class_name,
            "files": {f.relative_path: f.sha256 for f in provenance.files},
            "git": (
                None
                if provenance.git is None
                else {"commit": provenance.git.commit, "dirty": provenance.git.dirty}
            ),
        },
        model={
            "constructor_args_from": state.args_source,
            "inputs": _specs_json(state.inputs),
        },
    )


def _specs_json(specs: Any) -> Any:
    if isinstance(specs, TensorSpec):
        return {"shape": list(specs.shape), "dtype": specs.dtype}
    if isinstance(specs, dict):
        return {key: _specs_json(value) for key, value in specs.items()}
    return [_specs_json(value) for value in specs]
