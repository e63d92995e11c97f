"""The manifest, ``snapshot.json``: frozen records, written and read as JSON.

Whoever sends an archive controls every byte of it, the manifest included, so
reading checks the type of every field it uses and names the first wrong one.
Fields a reader does not know are ignored, so later additions stay readable.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from snapshot.errors import ArchiveError
from snapshot.version import FORMAT_VERSION

FORMAT_NAME = "keras-snapshot"
MANIFEST_NAME = "snapshot.json"
WEIGHTS_NAME = "model.weights.h5"
REQUIREMENTS_NAME = "requirements.txt"
PROBE_NAME = "probe.npz"
#: Optional members, present when the model needs them.
ARRAYS_NAME = "arrays.npz"
ASSETS_NAME = "assets.npz"
MODULE_STATE_NAME = "module_state.weights.h5"

_T = TypeVar("_T")


@dataclass(frozen=True)
class GitRecord:
    """The commit the sources were taken from."""

    commit: str
    #: True when the source files had uncommitted changes.
    dirty: bool


@dataclass(frozen=True)
class SourceRecord:
    """Where the model's code came from."""

    #: The original module and class (``zoo.models``, ``Classifier``).
    module: str
    class_name: str
    #: sha256 of each source file that contributed code, by machine-independent path.
    files: Mapping[str, str]
    git: GitRecord | None = None


@dataclass(frozen=True)
class ModelRecord:
    """How the model is rebuilt."""

    #: ``config``, ``recorded call``, ``get_config`` or ``attributes``.
    constructor_args_from: str
    #: The dtype policy the model was built under (``mixed_float16``, say).
    dtype_policy: str
    #: The input structure, as :func:`snapshot.capture.state.specs_to_json` writes it.
    inputs: Any
    #: Member holding the probe batch and its outputs.
    probe: str = PROBE_NAME
    #: ``model/layer`` of each layer of a Keras graph that the generated module
    #: makes from its Keras config, for want of a recorded constructor call.
    layers_from_config: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerificationRecord:
    """How the snapshot was verified when it was saved."""

    method: str
    max_abs_diff: float
    tolerance: float
    #: Variables the rebuilt model loaded.
    variables: int


@dataclass(frozen=True)
class TrainingRecord:
    """The compile state the generated module's ``compile_model()`` restores."""

    #: The optimizer's class (``keras.optimizers.Adam``).
    optimizer: str
    #: Optimizer steps taken when the archive was written.
    iterations: int
    #: True when the weights hold the optimizer's variables (under ``optimizer/``).
    optimizer_state: bool


@dataclass(frozen=True)
class CheckpointRecord:
    """Where in a training run ``SnapshotCheckpoint`` wrote the archive."""

    #: The epoch that had ended (or was running), counted from 1 as ``{epoch}`` is.
    epoch: int
    #: The batch within the epoch, counted from 1, when saving every N batches.
    batch: int | None
    #: The numeric logs Keras passed to the callback (``loss``, ``val_loss``...).
    logs: Mapping[str, float]


@dataclass(frozen=True)
class DefinitionRecord:
    """One extracted definition of the generated module."""

    #: Names it binds in the generated module.
    names: tuple[str, ...]
    #: ``zoo.layers, lines 3-9``.
    origin: str
    #: Methods replaced by stubs because nothing reaches them.
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArraysRecord:
    """The arrays member: array and tensor values the generated module reads."""

    member: str
    #: Array names in the member.
    names: tuple[str, ...]


@dataclass(frozen=True)
class AssetsRecord:
    """The assets member: files layers' ``save_assets()`` wrote (vocabularies)."""

    member: str
    #: File names, by the expression reaching the layer in the generated module
    #: (``model.preprocessor.tokenizer``, ``LOOKUP``).
    layers: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class ModuleStateRecord:
    """The module-state member: variables of module-level Keras objects."""

    member: str
    #: Where each object was bound originally, by its name in the generated module.
    objects: Mapping[str, str]


@dataclass(frozen=True)
class ArchiveManifest:
    """The content of ``snapshot.json``."""

    format: str
    format_version: int
    #: File name of the generated module.
    module: str
    #: The model class's name in the generated module.
    class_name: str
    #: File name of the weights member.
    weights: str
    #: sha256 of every other member, by name.
    members: Mapping[str, str]
    #: Versions of what wrote the archive (Python, Keras, backend, keras-snapshot).
    versions: Mapping[str, str]
    source: SourceRecord
    model: ModelRecord
    #: None when the archive was saved without verification.
    verification: VerificationRecord | None = None
    #: Third-party distributions the generated module imports, with versions.
    requirements: Mapping[str, str] = field(default_factory=dict)
    #: Third-party top-level import names of the generated module, by distribution.
    imports: Mapping[str, str] = field(default_factory=dict)
    definitions: tuple[DefinitionRecord, ...] = ()
    #: When the archive was written (UTC, ISO 8601); the only time-dependent field.
    created: str = ""
    #: Optional members, each None when absent.
    arrays: ArraysRecord | None = None
    assets: AssetsRecord | None = None
    module_state: ModuleStateRecord | None = None

    @property
    def data_members(self) -> tuple[str, ...]:
        """Members the generated module reads beside itself (arrays, assets, state)."""
        return tuple(
            record.member
            for record in (self.arrays, self.assets, self.module_state)
            if record is not None
        )

    #: How the model was compiled; None for a model that never was.
    training: TrainingRecord | None = None
    #: Set when a ``SnapshotCheckpoint`` wrote the archive during ``fit``.
    checkpoint: CheckpointRecord | None = None

    def to_data(self) -> dict[str, Any]:
        """The manifest as JSON data, with the field names of the format."""
        source = self.source
        verification = self.verification
        return {
            "format": self.format,
            "format_version": self.format_version,
            "module": self.module,
            "class": self.class_name,
            "weights": self.weights,
            "members": dict(self.members),
            "versions": dict(self.versions),
            "source": {
                "module": source.module,
                "class": source.class_name,
                "files": dict(source.files),
                "git": (
                    None
                    if source.git is None
                    else {"commit": source.git.commit, "dirty": source.git.dirty}
                ),
            },
            "model": {
                "constructor_args_from": self.model.constructor_args_from,
                "dtype_policy": self.model.dtype_policy,
                "inputs": self.model.inputs,
                "probe": self.model.probe,
                "layers_from_config": list(self.model.layers_from_config),
            },
            "verification": (
                None
                if verification is None
                else {
                    "method": verification.method,
                    "max_abs_diff": verification.max_abs_diff,
                    "tolerance": verification.tolerance,
                    "variables": verification.variables,
                }
            ),
            "requirements": dict(self.requirements),
            "imports": dict(self.imports),
            "definitions": [
                {
                    "names": list(d.names),
                    "origin": d.origin,
                    "left_out": list(d.left_out),
                }
                for d in self.definitions
            ],
            "created": self.created,
            "arrays": (
                None
                if self.arrays is None
                else {"member": self.arrays.member, "names": list(self.arrays.names)}
            ),
            "assets": (
                None
                if self.assets is None
                else {
                    "member": self.assets.member,
                    "layers": {k: list(v) for k, v in self.assets.layers.items()},
                }
            ),
            "module_state": (
                None
                if self.module_state is None
                else {
                    "member": self.module_state.member,
                    "objects": dict(self.module_state.objects),
                }
            ),
            "training": (
                None
                if self.training is None
                else {
                    "optimizer": self.training.optimizer,
                    "iterations": self.training.iterations,
                    "optimizer_state": self.training.optimizer_state,
                }
            ),
            "checkpoint": (
                None
                if self.checkpoint is None
                else {
                    "epoch": self.checkpoint.epoch,
                    "batch": self.checkpoint.batch,
                    "logs": dict(self.checkpoint.logs),
                }
            ),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_data(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: str) -> ArchiveManifest:
        """Parse and type-check a manifest; ArchiveError names what is wrong."""
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as error:
            raise ArchiveError(
                f"{where}: {MANIFEST_NAME} is not JSON: {error}"
            ) from None
        except RecursionError:
            raise ArchiveError(
                f"{where}: {MANIFEST_NAME} is nested too deeply to be a manifest"
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
            raise ArchiveError(f"{where}: not a keras-snapshot archive")
        _check_format_version(data.get("format_version"), where=where)
        fields = _Fields(data, where=where)
        source = fields.record("source")
        model = fields.record("model")
        verification = fields.optional_record("verification")
        git = source.optional_record("git")
        arrays = fields.optional_record("arrays")
        assets = fields.optional_record("assets")
        module_state = fields.optional_record("module_state")
        return cls(
            format=FORMAT_NAME,
            format_version=FORMAT_VERSION,
            module=fields.text("module"),
            class_name=fields.text("class"),
            weights=fields.text("weights"),
            members=fields.digest_mapping("members"),
            versions=fields.text_mapping("versions"),
            source=SourceRecord(
                module=source.text("module", default=""),
                class_name=source.text("class", default=""),
                files=source.text_mapping("files", default={}),
                git=(
                    None
                    if git is None
                    else GitRecord(git.text("commit"), git.boolean("dirty"))
                ),
            ),
            model=ModelRecord(
                constructor_args_from=model.text("constructor_args_from", default=""),
                dtype_policy=model.text("dtype_policy", default="float32"),
                inputs=model.inputs("inputs"),
                probe=model.text("probe", default=PROBE_NAME),
                layers_from_config=tuple(
                    model.text_list("layers_from_config", default=[])
                ),
            ),
            verification=(
                None
                if verification is None
                else VerificationRecord(
                    method=verification.text("method"),
                    max_abs_diff=verification.number("max_abs_diff"),
                    tolerance=verification.number("tolerance"),
                    variables=verification.count("variables"),
                )
            ),
            requirements=fields.text_mapping("requirements", default={}),
            imports=fields.text_mapping("imports", default={}),
            definitions=tuple(
                DefinitionRecord(
                    names=tuple(d.text_list("names")),
                    origin=d.text("origin"),
                    left_out=tuple(d.text_list("left_out", default=[])),
                )
                for d in fields.record_list("definitions")
            ),
            created=fields.text("created", default=""),
            arrays=(
                None
                if arrays is None
                else ArraysRecord(
                    member=arrays.text("member"), names=tuple(arrays.text_list("names"))
                )
            ),
            assets=(
                None
                if assets is None
                else AssetsRecord(
                    member=assets.text("member"),
                    layers={
                        key: tuple(files)
                        for key, files in assets.list_mapping("layers").items()
                    },
                )
            ),
            module_state=(
                None
                if module_state is None
                else ModuleStateRecord(
                    member=module_state.text("member"),
                    objects=module_state.text_mapping("objects"),
                )
            ),
            training=_training_record(fields.optional_record("training")),
            checkpoint=_checkpoint_record(fields.optional_record("checkpoint")),
        )


def _training_record(fields: _Fields | None) -> TrainingRecord | None:
    if fields is None:
        return None
    return TrainingRecord(
        optimizer=fields.text("optimizer"),
        iterations=int(fields.number("iterations")),
        optimizer_state=fields.boolean("optimizer_state"),
    )


def _checkpoint_record(fields: _Fields | None) -> CheckpointRecord | None:
    if fields is None:
        return None
    batch = fields.optional_number("batch")
    return CheckpointRecord(
        epoch=int(fields.number("epoch")),
        batch=None if batch is None else int(batch),
        logs=fields.number_mapping("logs"),
    )


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _check_format_version(version: object, *, where: str) -> None:
    if not isinstance(version, int) or isinstance(version, bool):
        raise ArchiveError(f"{where}: format_version {version!r} is not a number")
    if version > FORMAT_VERSION:
        raise ArchiveError(
            f"{where}: archive format version {version} is newer than this "
            f"keras-snapshot reads (up to {FORMAT_VERSION}); upgrade keras-snapshot"
        )
    if version < FORMAT_VERSION:
        raise ArchiveError(
            f"{where}: archive format version {version} predates the first released "
            f"format ({FORMAT_VERSION}) and cannot be read"
        )


_MISSING: Any = object()
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Nesting and rank beyond any model's inputs.
_MAX_INPUT_DEPTH = 32
_MAX_RANK = 32


def _is_finite_number(value: object) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


#: A dtype as ``str(array.dtype)`` spells it: ``float32``, ``string``, or with a
#: byte order and an item size for numpy text and bytes (``<U3``, ``|S5``).
_DTYPE = re.compile(r"[<>|=]?[A-Za-z_][A-Za-z0-9_]*")


def _is_input_structure(value: object, *, depth: int) -> bool:
    """True for ``{"shape", "dtype"}`` leaves in ``dict``/``list``/``tuple``/``call``
    nodes, under an optional top-level ``submodels`` node."""
    if depth > _MAX_INPUT_DEPTH or not isinstance(value, dict) or len(value) > 2:
        return False

    def nodes(items: object) -> bool:
        return isinstance(items, list) and all(
            _is_input_structure(item, depth=depth + 1) for item in items
        )

    def pairs(items: object) -> bool:
        return isinstance(items, list) and all(
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and _is_input_structure(pair[1], depth=depth + 1)
            for pair in items
        )

    if "shape" in value:
        shape, dtype = value["shape"], value.get("dtype")
        return (
            isinstance(shape, list)
            and len(shape) <= _MAX_RANK
            and all(
                isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**31
                for d in shape
            )
            and isinstance(dtype, str)
            and _DTYPE.fullmatch(dtype) is not None
        )
    if len(value) != 1:
        return False
    ((kind, items),) = value.items()
    if kind == "call":
        return (
            isinstance(items, dict)
            and set(items) == {"args", "kwargs"}
            and nodes(items["args"])
            and pairs(items["kwargs"])
        )
    if kind == "dict" or (kind == "submodels" and depth == 0):
        # A model without call(): the inputs of each sub-model, by attribute.
        return pairs(items)
    return kind in ("list", "tuple") and nodes(items)


class _Fields:
    """Typed access to one JSON object of the manifest; errors name the field."""

    def __init__(self, data: dict[str, Any], *, where: str, path: str = "") -> None:
        self._data = data
        self._where = where
        self._path = path

    def _take(
        self, key: str, check: Callable[[Any], bool], default: Any = _MISSING
    ) -> Any:
        value = self._data.get(key, _MISSING)
        if value is _MISSING and default is not _MISSING:
            return default
        if value is _MISSING or not check(value):
            raise ArchiveError(
                f"{self._where}: manifest field {self._path + key!r} is missing or malformed"
            )
        return value

    def text(self, key: str, *, default: Any = _MISSING) -> str:
        return str(self._take(key, lambda v: isinstance(v, str), default))

    def boolean(self, key: str) -> bool:
        return bool(self._take(key, lambda v: isinstance(v, bool)))

    def number(self, key: str) -> float:
        return float(self._take(key, _is_finite_number))

    def count(self, key: str) -> int:
        return int(
            self._take(
                key, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0
            )
        )

    def digest_mapping(self, key: str) -> dict[str, str]:
        """Names to sha256 hex digests."""
        return dict(
            self._take(
                key,
                lambda v: isinstance(v, dict)
                and all(isinstance(i, str) and _SHA256.match(i) for i in v.values()),
            )
        )

    def inputs(self, key: str) -> Any:
        """The input structure, as :func:`snapshot.capture.state.specs_to_json` writes it."""
        return self._take(key, lambda v: _is_input_structure(v, depth=0))

    def optional_number(self, key: str) -> float | None:
        found = self._take(
            key,
            lambda v: v is None
            or (isinstance(v, (int, float)) and not isinstance(v, bool)),
            None,
        )
        return None if found is None else float(found)

    def number_mapping(self, key: str) -> dict[str, float]:
        found = self._take(
            key,
            lambda v: isinstance(v, dict)
            and all(
                isinstance(i, (int, float)) and not isinstance(i, bool)
                for i in v.values()
            ),
        )
        return {str(k): float(v) for k, v in found.items()}

    def text_list(self, key: str, *, default: Any = _MISSING) -> list[str]:
        return list(
            self._take(
                key,
                lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
                default,
            )
        )

    def text_mapping(self, key: str, *, default: Any = _MISSING) -> dict[str, str]:
        return dict(
            self._take(
                key,
                lambda v: isinstance(v, dict)
                and all(isinstance(i, str) for i in v.values()),
                default,
            )
        )

    def list_mapping(self, key: str) -> dict[str, list[str]]:
        return dict(
            self._take(
                key,
                lambda v: isinstance(v, dict)
                and all(
                    isinstance(files, list) and all(isinstance(f, str) for f in files)
                    for files in v.values()
                ),
            )
        )

    def record(self, key: str) -> _Fields:
        found = self._take(key, lambda v: isinstance(v, dict))
        return _Fields(found, where=self._where, path=f"{self._path}{key}.")

    def optional_record(self, key: str) -> _Fields | None:
        found = self._take(key, lambda v: v is None or isinstance(v, dict), None)
        if found is None:
            return None
        return _Fields(found, where=self._where, path=f"{self._path}{key}.")

    def record_list(self, key: str) -> list[_Fields]:
        found = self._take(
            key,
            lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v),
            [],
        )
        return [
            _Fields(item, where=self._where, path=f"{self._path}{key}[{i}].")
            for i, item in enumerate(found)
        ]
