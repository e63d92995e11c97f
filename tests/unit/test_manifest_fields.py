"""Manifest fields are type-checked when read; a wrong one is named, never a crash later."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from snapshot.archive.manifest import ArchiveManifest
from snapshot.errors import ArchiveError

DIGEST = "ab" * 32
MANIFEST: dict[str, Any] = {
    "format": "keras-snapshot",
    "format_version": 1,
    "module": "m_snapshot.py",
    "class": "M",
    "weights": "model.weights.h5",
    "members": {"m_snapshot.py": DIGEST},
    "versions": {"keras": "3"},
    "source": {"module": "m", "class": "M", "files": {}, "git": None},
    "model": {
        "constructor_args_from": "config",
        "dtype_policy": "float32",
        "inputs": {"shape": [1, 3], "dtype": "float32"},
        "probe": "probe.npz",
    },
    "verification": {
        "method": "m",
        "max_abs_diff": 0.0,
        "tolerance": 1e-6,
        "variables": 2,
    },
}


def _read(change: Any = None, text: str | None = None) -> ArchiveManifest:
    data = copy.deepcopy(MANIFEST)
    if change is not None:
        change(data)
    return ArchiveManifest.from_json(text or json.dumps(data), where="A")


VALID_INPUTS = [
    {"shape": [], "dtype": "int32"},
    # numpy's spelling of a batch of strings, as example inputs give it
    {"shape": [2, 4], "dtype": "<U3"},
    {"list": [{"shape": [2, 5], "dtype": "float32"}]},
    {"tuple": []},
    {"dict": [["tokens", {"shape": [2, 5], "dtype": "int32"}]]},
    # numpy text and bytes, as an example batch of strings records them.
    {"list": [{"shape": [2, 4], "dtype": "<U3"}, {"shape": [1], "dtype": "|S5"}]},
    {
        "call": {
            "args": [{"shape": [1], "dtype": "bool"}],
            "kwargs": [["mask", {"shape": [1], "dtype": "bool"}]],
        }
    },
]
MALFORMED_INPUTS = [
    None,
    [],
    "x",
    {"shape": "abc", "dtype": "float32"},
    {"shape": [1.5], "dtype": "float32"},
    {"shape": [-1], "dtype": "float32"},
    {"shape": [True], "dtype": "float32"},
    {"shape": [1] * 33, "dtype": "float32"},
    {"shape": [1], "dtype": 3},
    {"shape": [1], "dtype": "float32; import os"},
    {"shape": [1], "dtype": "<<U3"},
    {"dict": {"a": {"shape": [1], "dtype": "float32"}}},
    {"dict": [["a"]]},
    {"dict": [[1, {"shape": [1], "dtype": "float32"}]]},
    {"list": [1]},
    {"call": {"args": []}},
    {"unknown": []},
    {"list": [], "tuple": []},
]


@pytest.mark.parametrize("inputs", VALID_INPUTS)
def test_input_structures_the_writer_makes_are_read(inputs: Any) -> None:
    assert _read(lambda m: m["model"].update(inputs=inputs)).model.inputs == inputs


@pytest.mark.parametrize("inputs", MALFORMED_INPUTS)
def test_malformed_input_structures_are_refused(inputs: Any) -> None:
    with pytest.raises(ArchiveError) as raised:
        _read(lambda m: m["model"].update(inputs=inputs))
    assert (
        str(raised.value) == "A: manifest field 'model.inputs' is missing or malformed"
    )


def test_deeply_nested_inputs_are_refused() -> None:
    deep: Any = {"shape": [1], "dtype": "float32"}
    for _ in range(40):
        deep = {"list": [deep]}
    with pytest.raises(ArchiveError, match="'model.inputs' is missing or malformed"):
        _read(lambda m: m["model"].update(inputs=deep))
    text = '{"format": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(ArchiveError) as raised:
        _read(text=text)
    assert str(raised.value) == "A: snapshot.json is nested too deeply to be a manifest"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_abs_diff", 10**400),
        ("max_abs_diff", float("nan")),
        ("tolerance", True),
        ("variables", 2.5),
        ("variables", -1),
    ],
)
def test_verification_numbers_are_finite_and_counts_whole(
    field: str, value: object
) -> None:
    with pytest.raises(ArchiveError) as raised:
        _read(lambda m: m["verification"].update({field: value}))
    assert str(raised.value) in (
        f"A: manifest field 'verification.{field}' is missing or malformed",
        "A: snapshot.json is not JSON: NaN is not a number JSON allows",
    )


@pytest.mark.parametrize("digest", ["0", DIGEST.upper(), 1, None, DIGEST + "0"])
def test_member_hashes_are_sha256_digests(digest: object) -> None:
    with pytest.raises(ArchiveError) as raised:
        _read(lambda m: m["members"].update({"m_snapshot.py": digest}))
    assert str(raised.value) == "A: manifest field 'members' is missing or malformed"
