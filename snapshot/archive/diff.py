"""What changed between two archives, read without running any of their code.

Members are read and hash-checked by :mod:`snapshot.archive.reader`; the
constructor arguments come from the generated module's ``build_model()``
through ``ast``; the weights are compared variable by variable with h5py.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from snapshot import progress
from snapshot.archive.reader import OpenedArchive, read_archive


@dataclass(frozen=True)
class ValueChange:
    """One named value that differs: ``before`` in the first archive, ``after`` in the second.

    None stands for absent.
    """

    name: str
    before: Any
    after: Any


@dataclass(frozen=True)
class WeightChange:
    """One stored variable that differs, by its path in the weights file."""

    name: str
    #: ``added``, ``removed``, ``shape``, ``dtype`` or ``values``.
    change: str
    shape_before: tuple[int, ...] | None
    shape_after: tuple[int, ...] | None
    #: For changed values: the largest absolute difference, and the L2 norm of
    #: the difference relative to the first archive's (inf when that is zero).
    max_abs_diff: float | None = None
    relative_l2: float | None = None


@dataclass(frozen=True)
class ArchiveDiff:
    """Everything that differs between archives ``a`` and ``b``."""

    a: str
    b: str
    #: Unified diff of the generated modules.
    code: tuple[str, ...]
    constructor: tuple[ValueChange, ...]
    inputs: tuple[ValueChange, ...]
    weights: tuple[WeightChange, ...]
    #: Compile state (optimizer class, step) and checkpoint position.
    training: tuple[ValueChange, ...]
    versions: tuple[ValueChange, ...]
    requirements: tuple[ValueChange, ...]
    #: Variables compared, in both archives.
    variables_compared: int

    @property
    def identical(self) -> bool:
        return not (
            self.code
            or self.constructor
            or self.inputs
            or self.weights
            or self.training
            or self.versions
            or self.requirements
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["identical"] = self.identical
        return data


def diff_archives(a: Path, b: Path) -> ArchiveDiff:
    """Compare the archives at ``a`` and ``b``; neither one's code runs."""
    with (
        progress.operation(f"comparing {a} with {b}"),
        tempfile.TemporaryDirectory(prefix="snapshot-diff-") as folder,
    ):
        with progress.stage("read"):
            first = read_archive(a, weights_to=Path(folder) / "a.weights.h5")
            second = read_archive(b, weights_to=Path(folder) / "b.weights.h5")
        with progress.stage("compare weights"):
            weights, compared = _weight_changes(
                Path(folder) / "a.weights.h5", Path(folder) / "b.weights.h5"
            )
    return ArchiveDiff(
        a=str(a),
        b=str(b),
        code=_code_diff(first, second),
        constructor=_changes(_constructor(first), _constructor(second)),
        inputs=_changes(
            {"inputs": first.manifest.model.inputs},
            {"inputs": second.manifest.model.inputs},
        ),
        weights=weights,
        training=_changes(_training(first), _training(second)),
        versions=_changes(first.manifest.versions, second.manifest.versions),
        requirements=_changes(
            first.manifest.requirements, second.manifest.requirements
        ),
        variables_compared=compared,
    )


def _code_diff(first: OpenedArchive, second: OpenedArchive) -> tuple[str, ...]:
    return tuple(
        line.rstrip("\n")
        for line in difflib.unified_diff(
            first.module_text.splitlines(keepends=True),
            second.module_text.splitlines(keepends=True),
            fromfile=f"a/{first.manifest.module}",
            tofile=f"b/{second.manifest.module}",
        )
    )


def _changes(before: Any, after: Any) -> tuple[ValueChange, ...]:
    return tuple(
        ValueChange(name, before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    )


def _constructor(opened: OpenedArchive) -> dict[str, str]:
    """The arguments of the model's construction in ``build_model()``, as code.

    ``{"class": "Classifier", "num_classes": "4"}``; positional arguments are
    named ``*0``, ``*1``...
    """
    try:
        tree = ast.parse(opened.module_text)
    except SyntaxError:
        return {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "build_model":
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Assign)
                    and [ast.unparse(t) for t in inner.targets] == ["model"]
                    and isinstance(inner.value, ast.Call)
                ):
                    call = inner.value
                    found = {"class": ast.unparse(call.func)}
                    found |= {f"*{i}": ast.unparse(a) for i, a in enumerate(call.args)}
                    found |= {
                        keyword.arg or "**": ast.unparse(keyword.value)
                        for keyword in call.keywords
                    }
                    return found
    return {}


def _training(opened: OpenedArchive) -> dict[str, Any]:
    manifest = opened.manifest
    found: dict[str, Any] = {}
    if manifest.training is not None:
        found["optimizer"] = manifest.training.optimizer
        found["optimizer step"] = manifest.training.iterations
    if manifest.checkpoint is not None:
        found["checkpoint epoch"] = manifest.checkpoint.epoch
        found["checkpoint batch"] = manifest.checkpoint.batch
    return found


def _weight_changes(a: Path, b: Path) -> tuple[tuple[WeightChange, ...], int]:
    """The variables that differ between two weights files, and how many were compared."""
    with h5py.File(a, "r") as first, h5py.File(b, "r") as second:
        before, after = _datasets(first), _datasets(second)
        changes = []
        for name in sorted(set(before) | set(after), key=_natural):
            if name not in after:
                changes.append(WeightChange(name, "removed", before[name].shape, None))
            elif name not in before:
                changes.append(WeightChange(name, "added", None, after[name].shape))
            else:
                change = _compare(name, before[name], after[name])
                if change is not None:
                    changes.append(change)
        compared = len(set(before) & set(after))
    return tuple(changes), compared


def _natural(name: str) -> list[Any]:
    """``optimizer/vars/2`` before ``optimizer/vars/10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _datasets(file: h5py.File) -> dict[str, h5py.Dataset]:
    found: dict[str, h5py.Dataset] = {}
    file.visititems(
        lambda name, item: (
            found.__setitem__(name, item) if isinstance(item, h5py.Dataset) else None
        )
    )
    return found


def _compare(
    name: str, first: h5py.Dataset, second: h5py.Dataset
) -> WeightChange | None:
    shapes = (tuple(first.shape), tuple(second.shape))
    if shapes[0] != shapes[1]:
        return WeightChange(name, "shape", *shapes)
    if first.dtype != second.dtype:
        return WeightChange(name, "dtype", *shapes)
    # One variable at a time: memory stays bounded by the largest one.
    before, after = first[()], second[()]
    if np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"):
        return None
    if before.dtype.kind not in "biufc":
        return WeightChange(name, "values", *shapes)
    before64, after64 = before.astype("float64"), after.astype("float64")
    difference = np.abs(after64 - before64)
    norm = float(np.linalg.norm(before64))
    change = float(np.linalg.norm(after64 - before64))
    return WeightChange(
        name,
        "values",
        *shapes,
        max_abs_diff=float(np.nanmax(difference)) if difference.size else 0.0,
        relative_l2=change / norm if norm else math.inf,
    )


def summary(found: ArchiveDiff) -> str:
    """The differences as readable text; one line when the archives are identical."""
    if found.identical:
        return (
            f"{found.a} and {found.b} are identical "
            f"(code, arguments, inputs, {found.variables_compared} weights, "
            "training state, versions, requirements)"
        )
    lines = [f"--- {found.a}", f"+++ {found.b}"]
    for title, changes in (
        ("constructor arguments", found.constructor),
        ("inputs", found.inputs),
        ("training", found.training),
        ("versions", found.versions),
        ("requirements", found.requirements),
    ):
        if changes:
            lines.append(title)
            lines += [f"  {c.name}: {c.before!r} -> {c.after!r}" for c in changes]
    if found.weights:
        total = found.variables_compared + sum(
            w.change in ("added", "removed") for w in found.weights
        )
        lines.append(f"weights: {len(found.weights)} of {total} variables differ")
        width = max(len(w.name) for w in found.weights)
        for weight in found.weights:
            lines.append(f"  {weight.name:<{width}}  {_describe_weight(weight)}")
    if found.code:
        lines.append("code")
        lines += [f"  {line}" for line in found.code]
    return "\n".join(lines)


def _describe_weight(weight: WeightChange) -> str:
    if weight.change == "added":
        return f"added {weight.shape_after}"
    if weight.change == "removed":
        return f"removed {weight.shape_before}"
    if weight.change == "shape":
        return f"shape {weight.shape_before} -> {weight.shape_after}"
    if weight.change == "dtype" or weight.max_abs_diff is None:
        return weight.change
    return (
        f"max abs diff {weight.max_abs_diff:.3g}, "
        f"relative L2 {weight.relative_l2:.3g}"
    )
