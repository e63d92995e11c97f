"""The use cases: save a model as a snapshot, generate its module, load it back."""

from __future__ import annotations

import dataclasses
import datetime
import io
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import keras
import numpy as np

from snapshot import keras_compat, progress
from snapshot.analysis.collect import DependencyClosure, collect
from snapshot.analysis.locate import locate_class
from snapshot.analysis.modules import find_module
from snapshot.analysis.provenance import Provenance, describe_sources
from snapshot.analysis.rewrite import rewrite
from snapshot.archive.loader import load_archive
from snapshot.archive.manifest import (
    ARRAYS_NAME,
    ASSETS_NAME,
    FORMAT_NAME,
    MODULE_STATE_NAME,
    PROBE_NAME,
    REQUIREMENTS_NAME,
    WEIGHTS_NAME,
    ArchiveManifest,
    ArraysRecord,
    AssetsRecord,
    CheckpointRecord,
    DefinitionRecord,
    GitRecord,
    ModelRecord,
    ModuleStateRecord,
    SourceRecord,
    TrainingRecord,
    VerificationRecord,
)
from snapshot.archive.reader import OpenedArchive, read_archive
from snapshot.archive.streams import sha256_bytes
from snapshot.archive.weights_file import check_weights_file
from snapshot.archive.writer import check_destination, write_archive
from snapshot.capture import probe, values
from snapshot.capture.assets import to_bytes as assets_to_bytes
from snapshot.capture.graph import (
    all_from_config,
    builder_names,
    graph_class_name,
    identifier,
)
from snapshot.capture.module_state import (
    ModuleState,
    capture_module_state,
    variables_bytes,
)
from snapshot.capture.record import recorded_call
from snapshot.capture.state import ModelState, capture_state, specs_to_json
from snapshot.capture.training import optimizer_class_name, optimizer_iterations
from snapshot.capture.versions import current_versions
from snapshot.capture.weights import save_weights, weights_file_bytes
from snapshot.config import SnapshotConfig
from snapshot.emit.format import format_source
from snapshot.emit.render import module_file_name, render_module
from snapshot.emit.requirements import Requirements, third_party_requirements
from snapshot.emit.state_code import asset_layers, needed_imports, state_code
from snapshot.errors import NotAModelError, SnapshotError
from snapshot.model import ImportItem, ModelTarget, SymbolRef
from snapshot.trust.policy import Trust, check_trust_argument, decide
from snapshot.trust.store import default_store, new_record
from snapshot.verification.device import reference_outputs_scope
from snapshot.verification.report import (
    METHODS,
    VerificationReport,
    raise_unless_passed,
)
from snapshot.verification.verifier import start_warm_verifier, verify_archive
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
    verify: bool = True,
) -> Path:
    """Write ``model`` as a standalone snapshot archive at ``path`` and return the path.

    ``inputs`` is an example batch (array, or list/tuple/dict of arrays) to build
    the model on when loading; by default the input shapes Keras recorded at the
    model's first call. ``config`` gives the constructor arguments when they
    cannot be recorded. ``intern``/``extern`` are module patterns to extract or
    to keep as imports against the first-/third-party default. ``layout="dir"``
    writes the same members into a folder. With ``verify`` (the default) the
    archive is first loaded in an isolated interpreter without your code and must
    reproduce the model's outputs exactly, or nothing is written. A compiled
    model is saved with its compile state and optimizer state, so it loads
    ready to resume training.
    """
    _check_is_model(model)
    check_destination(Path(path), layout=layout, overwrite=overwrite)
    if verify:
        # Its Keras import overlaps the analysis and the weight writing below.
        start_warm_verifier()
    options = SnapshotConfig(intern=tuple(intern), extern=tuple(extern))
    with progress.operation(f"saving {path}"):
        with progress.stage("analyse"):
            prepared = prepare(model, inputs=inputs, config=config, options=options)
        with progress.stage("write weights"):
            weights = weights_file_bytes(model)
        write_prepared(
            prepared,
            Path(path),
            weights=weights if weights is not None else partial(save_weights, model),
            probe_outputs=prepared.probe,
            training=training_record(model, prepared.state),
            verify=verify,
            layout=layout,
            overwrite=overwrite,
        )
    return Path(path)


@dataclass(frozen=True)
class PreparedSnapshot:
    """What a save writes besides the weights: the module, the probe, their records."""

    #: None for a model of Keras' own graph classes.
    target: ModelTarget | None
    state: ModelState
    generated: GeneratedModule
    probe: probe.Probe
    #: File name of the generated module in the archive.
    module_name: str

    @property
    def module_bytes(self) -> bytes:
        return self.generated.text.encode("utf-8")


def prepare(
    model: keras.Model,
    *,
    inputs: Any = None,
    config: Mapping[str, Any] | None = None,
    options: SnapshotConfig,
) -> PreparedSnapshot:
    """Record how ``model`` was made and compiled, generate its module and probe it."""
    target = locate_model(model, config)
    state = capture_state(model, inputs=inputs, config=config)
    generated = generate_module(target, state, config=options)
    with reference_outputs_scope():
        module_probe = probe.make_probe(model, inputs, state.inputs)
    module_name = module_file_name(
        target.class_name if target is not None else identifier(model.name)
    )
    return PreparedSnapshot(target, state, generated, module_probe, module_name)


def write_prepared(
    prepared: PreparedSnapshot,
    path: Path,
    *,
    weights: bytes | memoryview | Callable[[Path], None],
    probe_outputs: probe.Probe,
    training: TrainingRecord | None,
    verify: bool = True,
    verified: VerificationRecord | None = None,
    checkpoint: CheckpointRecord | None = None,
    layout: str = "zip",
    overwrite: bool = False,
) -> ArchiveManifest:
    """Write the archive of ``prepared`` with these weights and probe outputs.

    ``weights`` are the bytes of the ``.weights.h5`` file, or a function that
    writes it to a path. With ``verify`` the archive is loaded in a fresh
    interpreter first; ``verified`` instead records an earlier verification
    of the same module and weights layout (a checkpoint of the same run).
    The module is recorded as trusted here, as this user saved it.
    """
    generated = prepared.generated
    requirements = generated.requirements
    stored = stored_members(prepared.state, generated)
    module_bytes = prepared.module_bytes
    module_sha256 = sha256_bytes(module_bytes)
    check = None
    if verify:
        check = partial(
            _verify_staged,
            generated=generated,
            requirements=requirements,
            module_sha256=module_sha256,
        )

    def manifest_for(
        hashes: dict[str, str], verification: VerificationRecord | None
    ) -> ArchiveManifest:
        return _manifest(
            prepared.target,
            prepared.state,
            generated,
            prepared.module_name,
            requirements,
            stored,
            hashes,
            verification or verified,
            training=training,
            checkpoint=checkpoint,
        )

    manifest = write_archive(
        path,
        members={
            prepared.module_name: module_bytes,
            PROBE_NAME: probe.to_bytes(probe_outputs),
            REQUIREMENTS_NAME: requirements.text().encode("utf-8"),
            **stored.members,
        },
        weights=None if callable(weights) else weights,
        write_weights=weights if callable(weights) else None,
        manifest_for=manifest_for,
        check=check,
        layout=layout,
        overwrite=overwrite,
    )
    _trust_saved(module_sha256, prepared.module_name, path)
    return manifest


def training_record(model: keras.Model, state: ModelState) -> TrainingRecord | None:
    """The manifest's record of the compile state ``state`` captured, or None."""
    if state.training is None:
        return None
    return TrainingRecord(
        optimizer=optimizer_class_name(model),
        iterations=optimizer_iterations(model),
        optimizer_state=state.training.optimizer_built,
    )


def _check_is_model(model: object) -> None:
    if isinstance(model, keras.Model):
        return
    if isinstance(model, type) and issubclass(model, keras.Model):
        raise NotAModelError(
            f"{model.__name__} is a class; pass a built model instance "
            f"(e.g. {model.__name__}(...) called once on data)"
        )
    raise NotAModelError(f"{type(model).__name__} is not a keras.Model")


def _trust_saved(sha256: str, module: str, path: Path) -> None:
    """Record the module this user just saved, so it loads here with the defaults."""
    record = new_record(sha256=sha256, module=module, archive=path, how="saved")
    try:
        default_store().record(record)
    except SnapshotError as error:
        # The archive is whole; only loading it here will need trust="sha256:...".
        warnings.warn(
            f'{path}: saved, but {error}; load it with trust="sha256:{sha256}"',
            stacklevel=4,
        )


def load(
    path: str | Path, *, trust: Trust = False, compile: bool = True
) -> keras.Model:
    """Rebuild the model saved at ``path`` and load its weights; no original code needed.

    Loading runs the archive's generated module, so it runs only when trusted:
    saved by this user on this machine (the default, ``trust=False``), pinned
    by its hash (``trust="sha256:<hex>"``, as ``snapshot review`` shows it),
    trusted with ``snapshot trust``, or ``trust=True`` (anything the archive
    holds). Otherwise UntrustedArchiveError is raised before any of it runs.
    Every member is checked first: hashes, names, sizes, encodings. A model
    saved compiled comes back compiled, with its optimizer's state, ready for
    ``fit``; ``compile=False`` skips compiling it.
    """
    check_trust_argument(trust)
    return load_archive(
        Path(path), approve=partial(_approve, trust=trust, path=path), compile=compile
    )


def _approve(opened: OpenedArchive, *, trust: Trust, path: str | Path) -> str:
    """The sha256 of the module of ``opened`` allowed to run, or UntrustedArchiveError."""
    return decide(
        trust,
        sha256=opened.module_sha256,
        module=opened.manifest.module,
        where=str(path),
        store=default_store(),
    ).sha256


def module_source(
    model: keras.Model,
    *,
    inputs: Any = None,
    config: Mapping[str, Any] | None = None,
    intern: Iterable[str] = (),
    extern: Iterable[str] = (),
) -> str:
    """The generated module ``save`` would write for ``model``, as text."""
    _check_is_model(model)
    options = SnapshotConfig(intern=tuple(intern), extern=tuple(extern))
    state = capture_state(model, inputs=inputs, config=config)
    return generate_module(locate_model(model, config), state, config=options).text


def locate_model(
    model: keras.Model, config: Mapping[str, Any] | None = None
) -> ModelTarget | None:
    """Where the model's class is defined; None for Keras' own graph classes.

    A functional or Sequential model of Keras' own is written from its graph:
    there is no class of the user's to extract. Where a notebook cell defined
    a class again since, the one the live model holds counts.
    """
    if keras_compat.graph_kind(model) is not None:
        return None
    return locate_class(type(model), held=_held(model, config))


def _held(model: keras.Model, config: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """Classes and functions the live model holds: its layers', its arguments'."""
    arguments = (recorded_call(model), dict(config) if config is not None else None)
    return (*keras_compat.layer_classes(model), *values.held_objects(arguments))


@dataclass(frozen=True)
class GeneratedModule:
    """The generated module's text, where its code came from, and what it holds."""

    text: str
    provenance: Provenance
    closure: DependencyClosure
    #: Names and origin of each extracted definition, for the manifest.
    definitions: tuple[DefinitionRecord, ...]
    #: Third-party distributions the module imports.
    requirements: Requirements
    #: Module-level values stored instead of their code, as captured now.
    module_state: ModuleState = field(default_factory=ModuleState)
    #: Their names in the generated module.
    captured_names: Mapping[SymbolRef, str] = field(default_factory=dict)
    #: ``model/layer`` of each layer a graph builder writes from its config,
    #: in the model's graphs and in module-level ones (a Sequential).
    layers_from_config: tuple[str, ...] = ()


def generate_module(
    target: ModelTarget | None, state: ModelState, *, config: SnapshotConfig
) -> GeneratedModule:
    """The standalone module for ``target`` built as ``state`` records.

    ``target`` is None for a model of Keras' own graph classes.

    A training script saves the same model every epoch: the result is reused
    within the process while every source file it read is unchanged.
    """
    # The whole state, not chosen fields: a field left out of the key (the
    # dtype policy once was) would hand one model another's module.
    key = (str(target), repr(state), repr(config))
    cached = _GENERATED.get(key)
    if cached is not None and cached[0] == _stamps(cached[1].closure):
        # Module-level objects may have changed since (a layer made anew):
        # their code is part of the text.
        now = _capture_module_state(cached[1].closure, state)
        if now == cached[1].module_state:
            return dataclasses.replace(cached[1], module_state=now)
    generated = _generate_module(target, state, config=config)
    _GENERATED[key] = (_stamps(generated.closure), generated)
    return generated


#: Generated modules of this process, with the stamps of the files they read.
_GENERATED: dict[
    tuple[str, ...], tuple[tuple[tuple[str, int, int], ...], GeneratedModule]
] = {}


def _stamps(closure: DependencyClosure) -> tuple[tuple[str, int, int], ...]:
    found = []
    for index in closure.modules_read:
        if index.source.session is not None:
            # Notebook cells: the module is current while no other cell ran.
            current = find_module("__main__")
            cells = current.session.cells if current and current.session else ()
            found.append((index.source.path.name, hash(cells), len(cells)))
            continue
        try:
            stat = index.source.path.stat()
        except OSError:
            return ()
        found.append((str(index.source.path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def _generate_module(
    target: ModelTarget | None, state: ModelState, *, config: SnapshotConfig
) -> GeneratedModule:
    # The compile call's losses, metrics and schedules are roots like the
    # constructor's arguments: extracted when first-party, imported otherwise.
    expressions: list[values.Expression] = [state.constructor]
    if state.training is not None:
        expressions += state.training.expressions()
    keys = [
        values.reference_key(r, config=config)
        for expression in expressions
        for r in values.references(expression)
        # Keras' public API is spelled through ``import keras``.
        if values.keras_path(r) is None
    ]
    roots = tuple(k for k in keys if isinstance(k, SymbolRef))
    closure = collect(target, config=config, extra_roots=roots)
    module_state = _capture_module_state(closure, state)
    state_keys = [
        values.reference_key(r, config=config)
        for r in module_state.references()
        if values.keras_path(r) is None
    ]
    defined = {
        SymbolRef(s.statement.module, name)
        for s in closure.statements
        for name in s.statement.bound_names
    }
    missing = tuple(
        k for k in state_keys if isinstance(k, SymbolRef) and k not in defined
    )
    if missing:
        # Classes only a module-level object's constructor call names.
        closure = collect(target, config=config, extra_roots=roots + missing)
        module_state = _capture_module_state(closure, state)
    imports = [k for k in (*keys, *state_keys) if isinstance(k, ImportItem)]
    # Graph builders may be called by the model's construction and by
    # module-level values (a module-level Sequential).
    graph_sources = values.Sequence(
        "list",
        (state.constructor, *(value.expression for value in module_state.captured)),
    )
    rewritten = rewrite(
        closure,
        config=config,
        extra_imports=(*dict.fromkeys(imports), *needed_imports(state, module_state)),
        reserved=builder_names(graph_sources),
    )
    provenance = describe_sources(
        closure.modules,
        record_git=config.record_git,
        statements=(extracted.statement for extracted in closure.statements),
    )
    rendered = render_module(
        rewritten,
        state,
        provenance,
        target=str(target) if target is not None else describe_graph_model(state),
        weights_file=WEIGHTS_NAME,
        config=config,
        builders=tuple(values.builders(graph_sources)),
        stored=state_code(
            state,
            module_state,
            rewritten,
            members={
                "arrays": ARRAYS_NAME,
                "assets": ASSETS_NAME,
                "module_state": MODULE_STATE_NAME,
            },
            config=config,
        ),
    )
    definitions = tuple(
        DefinitionRecord(
            names=tuple(rewritten.names[SymbolRef(f.module, n)] for n in f.bound_names),
            origin=f.origin,
            left_out=f.left_out,
        )
        for f in rewritten.fragments
    )
    text = format_source(rendered).text
    return GeneratedModule(
        text,
        provenance,
        closure,
        definitions,
        third_party_requirements(text),
        module_state=module_state,
        captured_names={
            v.symbol: rewritten.name_of(v.symbol) for v in module_state.captured
        },
        layers_from_config=tuple(dict.fromkeys(all_from_config(graph_sources))),
    )


def describe_graph_model(state: ModelState) -> str:
    """``the functional model 'classifier'``: what a graph snapshot is of."""
    assert isinstance(state.constructor, values.Builder)
    graph = state.constructor.graph
    return f"the {graph.kind} model {graph.model_name!r}"


def _capture_module_state(closure: DependencyClosure, state: ModelState) -> ModuleState:
    # One store with the constructor's arrays, so that names never collide.
    return capture_module_state(closure, arrays=values.ArrayStore(dict(state.arrays)))


@dataclass(frozen=True)
class StoredMembers:
    """The optional members holding state beyond code and weights, and their records."""

    members: dict[str, bytes]
    arrays: ArraysRecord | None = None
    assets: AssetsRecord | None = None
    module_state: ModuleStateRecord | None = None


def stored_members(state: ModelState, generated: GeneratedModule) -> StoredMembers:
    """Stored arrays, assets and module-level variables, as the archive holds them."""
    module_state = generated.module_state
    members: dict[str, bytes] = {}
    arrays = dict(state.arrays) | dict(module_state.arrays)
    arrays_record = assets_record = module_record = None
    if arrays:
        members[ARRAYS_NAME] = _npz(arrays)
        arrays_record = ArraysRecord(ARRAYS_NAME, tuple(arrays))
    layers = asset_layers(state, module_state, names=generated.captured_names)
    if layers:
        members[ASSETS_NAME] = assets_to_bytes(layers)
        assets_record = AssetsRecord(
            ASSETS_NAME, {key: layer.file_names for key, layer in layers}
        )
    if module_state.layers:
        members[MODULE_STATE_NAME] = variables_bytes(module_state.layers)
        module_record = ModuleStateRecord(
            MODULE_STATE_NAME,
            {generated.captured_names[v.symbol]: v.origin for v in module_state.layers},
        )
    return StoredMembers(members, arrays_record, assets_record, module_record)


def _npz(arrays: Mapping[str, Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def verify(
    path: str | Path, *, tolerance: float | None = None, trust: Trust = False
) -> VerificationReport:
    """Load the snapshot at ``path`` in an isolated child and compare probe outputs.

    Loading runs the archive's module, so it needs the same ``trust`` as
    :func:`load`; the decision is made here and pinned to the module's hash,
    so the verifying child runs that module or none. The child is a fresh
    interpreter, or a child forked from this process's warm verifier when a
    verified save started one. The packages the snapshot was made from are
    blocked there. ``tolerance`` defaults to what floating-point rounding
    explains for the recorded outputs: 16 units in the last place of the
    largest one, 256 when the interpreter runs another Keras backend than the
    one that saved the model. Returns the report; ``report.passed`` tells the
    verdict.
    """
    check_trust_argument(trust)
    approved: list[str] = []
    with progress.operation(f"verifying {path}"):
        with (
            progress.stage("read"),
            tempfile.TemporaryDirectory(prefix="snapshot-verify-") as folder,
        ):
            # Malformed weights are bad input, refused here rather than by the child.
            weights = Path(folder) / WEIGHTS_NAME
            opened = read_archive(
                Path(path),
                weights_to=weights,
                before_weights=lambda checked: approved.append(
                    _approve(checked, trust=trust, path=path)
                ),
            )
            check_weights_file(weights, name=opened.manifest.weights, where=str(path))
        blocked = _original_packages(
            opened.manifest.source.files, imported=opened.manifest.imports
        )
        with progress.stage("load in an isolated interpreter and compare"):
            return verify_archive(
                Path(path),
                blocked=blocked,
                module_sha256=approved[0],
                tolerance=tolerance,
            )


def _verify_staged(
    folder: Path,
    *,
    generated: GeneratedModule,
    requirements: Requirements,
    module_sha256: str,
) -> VerificationRecord:
    files = {f.relative_path: f.sha256 for f in generated.provenance.files}
    blocked = _original_packages(files, imported=requirements.imports)
    # The module just generated, pinned: the child runs it and nothing else.
    with progress.stage("verify in an isolated interpreter"):
        report = verify_archive(folder, blocked=blocked, module_sha256=module_sha256)
    raise_unless_passed(report, causes=_likely_causes(generated.closure))
    assert report.max_abs_diff is not None and report.tolerance is not None
    return VerificationRecord(
        method=METHODS[report.method],
        max_abs_diff=report.max_abs_diff,
        tolerance=report.tolerance,
        variables=report.variables_loaded or 0,
    )


def _original_packages(
    files: Mapping[str, str], *, imported: Mapping[str, str]
) -> tuple[str, ...]:
    """Top-level packages the code was taken from, e.g. ``zoo`` for ``zoo/layers.py``.

    A package the generated module still imports (Keras, when only some of its
    modules were interned) is not blocked.
    """
    tops = {name.split("/")[0].removesuffix(".py") for name in files}
    # Notebook cells (``In[5]``) name no package.
    packages = {top for top in tops if top.isidentifier()}
    return tuple(sorted(packages - set(imported)))


def _likely_causes(closure: DependencyClosure) -> list[str]:
    """Why a rebuilt model may compute otherwise, from the classes the closure binds.

    Layers that save or load their own variables may not give back what they
    held (keras-hub's DINOv2 re-interpolates its position embeddings).
    Module-level layers and variables no longer appear here: they are
    captured with their state (see :mod:`snapshot.capture.module_state`).
    """
    weight_io = []
    for extracted in closure.statements:
        statement = extracted.statement
        module = sys.modules.get(statement.module)
        where = statement.location(statement.first_line)
        for name in statement.bound_names:
            value = getattr(module, name, None)
            if (
                isinstance(value, type)
                and issubclass(value, keras.layers.Layer)
                and {"save_own_variables", "load_own_variables"} & set(vars(value))
            ):
                weight_io.append(f"{name} at {where}")
    if not weight_io:
        return []
    return [
        "layers that save or load their own variables their own way: "
        + ", ".join(weight_io)
    ]


def _manifest(
    target: ModelTarget | None,
    state: ModelState,
    generated: GeneratedModule,
    module_name: str,
    requirements: Requirements,
    stored: StoredMembers,
    hashes: dict[str, str],
    verification: VerificationRecord | None,
    *,
    training: TrainingRecord | None = None,
    checkpoint: CheckpointRecord | None = None,
) -> ArchiveManifest:
    provenance = generated.provenance
    git = provenance.git
    return ArchiveManifest(
        format=FORMAT_NAME,
        format_version=FORMAT_VERSION,
        module=module_name,
        class_name=(
            target.class_name
            if target is not None
            else graph_class_name(state.constructor)
        ),
        weights=WEIGHTS_NAME,
        members=hashes,
        versions=current_versions() | {"keras_snapshot": __version__},
        source=SourceRecord(
            module="" if target is None else target.module.name,
            class_name="" if target is None else target.class_name,
            files={f.relative_path: f.sha256 for f in provenance.files},
            git=None if git is None else GitRecord(git.commit, git.dirty),
        ),
        model=ModelRecord(
            constructor_args_from=state.args_source,
            dtype_policy=state.dtype_policy,
            inputs=specs_to_json(state.inputs),
            probe=PROBE_NAME,
            layers_from_config=generated.layers_from_config,
        ),
        verification=verification,
        requirements=requirements.distributions,
        imports=requirements.imports,
        definitions=generated.definitions,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        arrays=stored.arrays,
        assets=stored.assets,
        module_state=stored.module_state,
        training=training,
        checkpoint=checkpoint,
    )
