"""Hostile archives, crafted with every hash consistent, never run code or exhaust memory.

Each payload would create a marker file if it ran: under the defaults none
does (the marker is absent, in this process and after a fresh interpreter
exits), and each is refused with one line. Trusted, each does run (the
marker appears), so the payloads are live and the tests can fail.
"""

from __future__ import annotations

import bz2
import json
import lzma
import re
import resource
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import snapshot
from conftest import isolated_environment, run_isolated
from hostile import (
    ALL_PAYLOADS,
    MALFORMED,
    RUN_ON_CALL,
    Parts,
    hostile_parts,
    with_raw_member,
)
from snapshot.cli.commands import cli
from statecases.models import StoresUnits

BATCH = np.ones((1, 3), "float32")
LAYOUTS = ("zip", "dir")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Parts:
    """The parts of an archive saved here: its module is trusted, as the user's own."""
    model = StoresUnits(2)
    model(BATCH)
    path = snapshot.save(
        model, tmp_path_factory.mktemp("base") / "base.snapshot", verify=False
    )
    return Parts.of(path)


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def _refusal(archive: Path, module: str, sha256: str) -> str:
    return (
        f"{archive}: refusing to run {module} (sha256:{sha256}): it was neither saved "
        f"nor trusted on this machine; read it with 'snapshot review {archive}', then "
        f"run 'snapshot trust {archive}' or pass trust=\"sha256:{sha256}\""
    )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("payload", ALL_PAYLOADS)
def test_payload_does_not_run_under_the_defaults(
    base: Parts, payload: str, layout: str, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    parts = hostile_parts(base, payload, marker)
    archive = parts.write(tmp_path / "hostile.snapshot", layout=layout)
    with pytest.raises(snapshot.SnapshotError) as raised:
        snapshot.load(archive)
    code, output = _cli("verify", str(archive))
    line = _one_line(output)
    if payload in MALFORMED:
        assert isinstance(raised.value, snapshot.ArchiveError)
        expected = (
            f"{archive}: module {parts.module_name} declares the utf-7 encoding; "
            "a snapshot module is UTF-8, so what is reviewed is what runs"
        )
        assert str(raised.value) == expected
        assert (code, line) == (1, f"error: {expected}")
        for command in ("inspect", "review"):
            assert _cli(command, str(archive)) == (1, f"error: {expected}\n")
    else:
        assert isinstance(raised.value, snapshot.UntrustedArchiveError)
        expected = _refusal(archive, parts.module_name, sha256_of(parts.module))
        assert str(raised.value) == expected
        assert (code, line) == (5, f"error: {expected}")
        for command in ("inspect", "review"):
            code, output = _cli(command, str(archive))
            assert code == 0 and "trusted" in output
    assert not marker.exists()


def sha256_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


_LOAD_EACH = """
import json, sys
import numpy as np
import snapshot
jobs = json.loads(open(JOBS).read())
for job in jobs:
    try:
        model = snapshot.load(job["archive"], trust=job["trust"])
        if job["call"]:
            model(np.ones((1, 3), "float32"))
    except snapshot.SnapshotError:
        pass
    if job["import_module"]:
        # The documented path without keras-snapshot: import the module itself.
        import runpy
        try:
            runpy.run_path(job["import_module"])
        except Exception:
            pass
print(json.dumps("done"))
"""


def test_payloads_run_only_when_trusted_even_at_exit(
    base: Parts, tmp_path: Path
) -> None:
    """In fresh interpreters, so that payloads running at exit (atexit) count too."""
    jobs: dict[str, list[dict[str, object]]] = {"default": [], "trusted": []}
    markers: dict[str, list[Path]] = {"default": [], "trusted": []}
    for mode in jobs:
        for index, payload in enumerate(ALL_PAYLOADS):
            marker = tmp_path / f"{mode}-{index}.marker"
            archive = hostile_parts(base, payload, marker).write_folder(
                tmp_path / f"{mode}-{index}.snapshot"
            )
            module = archive / base.module_name
            jobs[mode].append(
                {
                    "archive": str(archive),
                    "trust": mode == "trusted",
                    "call": payload in RUN_ON_CALL,
                    # Only the positive control imports the module directly.
                    "import_module": (
                        str(module)
                        if mode == "trusted" and payload in MALFORMED
                        else None
                    ),
                }
            )
            markers[mode].append(marker)
        (tmp_path / f"{mode}.json").write_text(json.dumps(jobs[mode]))
        run_isolated(
            _LOAD_EACH.replace("JOBS", repr(str(tmp_path / f"{mode}.json"))),
            blocked=("statecases",),
            workdir=tmp_path / f"empty-{mode}",
        )
    assert [m.name for m in markers["default"] if m.exists()] == []
    missing = [
        payload
        for payload, marker in zip(ALL_PAYLOADS, markers["trusted"], strict=True)
        if not marker.exists()
    ]
    assert missing == [], "payloads that did not run when trusted"


# Resource bounds ------------------------------------------------------------------


def _compressed_zeros(method: int, size: int) -> bytes:
    compressor = {
        zipfile.ZIP_BZIP2: lambda: bz2.BZ2Compressor(9),
        zipfile.ZIP_LZMA: lambda: lzma.LZMACompressor(lzma.FORMAT_ALONE),
        zipfile.ZIP_DEFLATED: lambda: zlib.compressobj(9, zlib.DEFLATED, -15),
    }[method]()
    chunk = bytes(1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(size >> 20)) + (
        compressor.flush()
    )


@pytest.mark.parametrize("method", ["bzip2", "lzma"])
def test_bzip2_and_lzma_members_are_refused_unread(
    base: Parts, method: str, tmp_path: Path
) -> None:
    kind = {"bzip2": zipfile.ZIP_BZIP2, "lzma": zipfile.ZIP_LZMA}[method]
    archive = base.compressed(base.module_name, kind).write_zip(tmp_path / "a.snapshot")
    label = {"bzip2": "bzip2", "lzma": "LZMA"}[method]
    expected = (
        f"error: {archive}: member {base.module_name} is compressed with {label}; "
        "a snapshot's members are stored or deflated"
    )
    for command in ("inspect", "review", "verify"):
        code, output = _cli(command, str(archive))
        assert (code, _one_line(output)) == (1, expected)
    with pytest.raises(snapshot.ArchiveError):
        snapshot.load(archive, trust=True)


#: Bombs of zeros: (member, method, inflated size, declared size, expected line).
BOMBS = {
    # One read call of the old reader inflated the whole probe: 512 MiB.
    "bzip2 probe": (
        "probe.npz",
        zipfile.ZIP_BZIP2,
        512 << 20,
        1000,
        "member probe.npz is compressed with bzip2; a snapshot's members are "
        "stored or deflated",
    ),
    "lzma module": (
        "MODULE",
        zipfile.ZIP_LZMA,
        64 << 20,
        1000,
        "member MODULE is compressed with LZMA; a snapshot's members are "
        "stored or deflated",
    ),
    "deflate weights, sizes declared": (
        "model.weights.h5",
        zipfile.ZIP_DEFLATED,
        256 << 20,
        256 << 20,
        "member model.weights.h5 expands 10\\d\\d times; refusing a possible zip bomb",
    ),
    "deflate weights, declared 4 KB": (
        "model.weights.h5",
        zipfile.ZIP_DEFLATED,
        256 << 20,
        4096,
        "not a readable zip archive: Bad CRC-32 for file 'model.weights.h5'",
    ),
}

_LOAD_BOMBS = """
import json, resource
import snapshot
growth = {}
for name, archive in json.loads(open(JOBS).read()).items():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for action in (snapshot.load, snapshot.verify):
        try:
            action(archive, trust=True)
        except snapshot.SnapshotError:
            pass
    growth[name] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps(growth))
"""


def test_bombs_are_refused_within_bounds(base: Parts, tmp_path: Path) -> None:
    """Each bomb is refused with one line, in processes that could not hold it inflated."""
    archives = {}
    for case, (member, method, inflated, declared, why) in BOMBS.items():
        member = member.replace("MODULE", base.module_name)
        archive = with_raw_member(
            base,
            tmp_path / f"{len(archives)}.snapshot",
            member,
            _compressed_zeros(method, inflated),
            method=method,
            size=declared,
        )
        assert archive.stat().st_size < 512 << 10
        archives[case] = str(archive)
        expected = f"error: {archive}: " + why.replace("MODULE", base.module_name)
        # inspect and review without Keras, in an address space of 384 MiB.
        for command in ("inspect", "review"):
            completed = subprocess.run(
                [sys.executable, "-I", "-m", "snapshot", command, str(archive)],
                env=isolated_environment(),
                preexec_fn=_address_space_limit,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert completed.returncode == 1, completed.stderr
            assert re.fullmatch(expected, completed.stderr.strip()), completed.stderr
    (tmp_path / "jobs.json").write_text(json.dumps(archives))
    growth = run_isolated(
        _LOAD_BOMBS.replace("JOBS", repr(str(tmp_path / "jobs.json"))),
        blocked=(),
        workdir=tmp_path / "empty",
    )
    assert {
        case: bytes_ < 64 << 20 for case, bytes_ in growth.items()
    } == dict.fromkeys(BOMBS, True), growth


def _address_space_limit() -> None:
    limit = 384 << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


#: The kernel of StoresUnits' dense layer in its weights file.
KERNEL = "dense/vars/0"


def _with_weights(base: Parts, tmp_path: Path, change: object) -> Parts:
    """``base`` with its weights file changed by ``change(h5py.File)``, rehashed."""
    path = tmp_path / "w.weights.h5"
    path.write_bytes(base.members["model.weights.h5"])
    with h5py.File(path, "a") as weights:
        change(weights)  # type: ignore[operator]
    return base.with_member("model.weights.h5", path.read_bytes())


def _replace_kernel(weights: h5py.File, **options: object) -> None:
    del weights[KERNEL]
    weights.create_dataset(KERNEL, **options)


def _virtual(weights: h5py.File) -> None:
    layout = h5py.VirtualLayout(shape=(3, 2), dtype="float32")
    layout[:] = h5py.VirtualSource("elsewhere.h5", "data", shape=(3, 2))
    del weights[KERNEL]
    weights.create_virtual_dataset(KERNEL, layout)


HDF5_CASES = {
    "huge declared dataset": (
        lambda w: _replace_kernel(w, shape=(10**10,), dtype="float32"),
        f"holds a dataset at {KERNEL} declaring 40000000000 bytes with 0 stored; "
        "refusing to read it",
    ),
    "compressed dataset": (
        lambda w: _replace_kernel(
            w, data=np.zeros((3, 2), "float32"), compression="gzip"
        ),
        f"holds a compressed or filtered dataset at {KERNEL}; Keras writes weights "
        "unfiltered",
    ),
    "external link": (
        lambda w: w.__setitem__("dense/extra", h5py.ExternalLink("/etc/passwd", "/x")),
        "holds a ExternalLink at dense/extra; weights hold only their own datasets",
    ),
    "soft link": (
        lambda w: w.__setitem__("dense/extra", h5py.SoftLink("/" + KERNEL)),
        "holds a SoftLink at dense/extra; weights hold only their own datasets",
    ),
    "external storage": (
        lambda w: _replace_kernel(
            w, shape=(3, 2), dtype="float32", external=[("/etc/hostname", 0, 24)]
        ),
        f"holds a dataset stored outside the file at {KERNEL}",
    ),
    "virtual dataset": (_virtual, f"holds a virtual or unknown dataset at {KERNEL}"),
    "object dataset": (
        lambda w: _replace_kernel(w, data=["a", "b"], dtype=h5py.string_dtype()),
        f"holds a dataset of type object at {KERNEL}",
    ),
}


@pytest.mark.parametrize("case", sorted(HDF5_CASES))
def test_weights_are_checked_before_keras_reads_them(
    base: Parts, case: str, tmp_path: Path
) -> None:
    change, why = HDF5_CASES[case]
    # The module is the user's own, trusted: the weights alone are hostile.
    archive = _with_weights(base, tmp_path, change).write_zip(tmp_path / "a.snapshot")
    expected = f"{archive}: member model.weights.h5 {why}"
    with pytest.raises(snapshot.ArchiveError) as raised:
        snapshot.load(archive)
    assert str(raised.value) == expected
    code, output = _cli("verify", str(archive))
    assert (code, _one_line(output)) == (1, f"error: {expected}")


def _probe_with(arrays: dict[str, np.ndarray], **options: object) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", **options) as probe:  # type: ignore[arg-type]
        for name, array in arrays.items():
            with probe.open(f"{name}.npy", "w") as stream:
                np.lib.format.write_array(stream, array, allow_pickle=True)
    return buffer.getvalue()


def _lying_npy_header() -> bytes:
    import io

    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        stream, {"descr": "<f4", "fortran_order": False, "shape": (10**10,)}
    )
    data = stream.getvalue() + bytes(12)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as probe:
        probe.writestr("input_0.npy", data)
    return buffer.getvalue()


PROBE_CASES = {
    "object dtype (a pickle)": (
        lambda: _probe_with({"input_0": np.array([{"a": 1}], dtype=object)}),
        "holds 'input_0.npy' of dtype object, not a plain array",
    ),
    "bzip2 inside the npz": (
        lambda: _probe_with(
            {"input_0": np.ones(3, "float32")}, compression=zipfile.ZIP_BZIP2
        ),
        "holds 'input_0.npy' compressed other than stored or deflated",
    ),
    "header declaring 40 GB": (
        _lying_npy_header,
        "holds 'input_0.npy', whose header declares 40000000000 bytes of data, "
        "not the 12 stored",
    ),
    "another file in the npz": (
        lambda: _probe_with({"../evil": np.ones(3, "float32")}),
        "holds '../evil.npy', which is not a probe array",
    ),
}


@pytest.mark.parametrize("case", sorted(PROBE_CASES))
def test_the_probe_is_read_without_pickle_and_within_bounds(
    base: Parts, case: str, tmp_path: Path
) -> None:
    make, why = PROBE_CASES[case]
    name = base.manifest["model"]["probe"]
    archive = base.with_member(name, make()).write_zip(tmp_path / "a.snapshot")
    expected = f"error: {archive}: member {name} {why}"
    for command in ("inspect", "verify"):
        code, output = _cli(command, str(archive))
        assert (code, _one_line(output)) == (1, expected)


# Members beyond the format ------------------------------------------------------------


def _extra(name: str, *, listed: bool) -> object:
    return lambda base: base.with_member(name, b"import os\n", listed=listed)


EXTRA_MEMBERS = {
    "keras.py beside the module (zip)": (
        "zip",
        _extra("keras.py", listed=False),
        "holds keras.py, which is not part of a snapshot (a snapshot holds "
        "snapshot.json, MODULE, model.weights.h5, probe.npz, requirements.txt and "
        "nothing else)",
    ),
    "keras.py listed in the manifest (zip)": (
        "zip",
        _extra("keras.py", listed=True),
        "manifest lists member 'keras.py', which is not part of a snapshot",
    ),
    "keras.py beside the module (folder)": (
        "dir",
        _extra("keras.py", listed=False),
        "holds keras.py, which is not part of a snapshot (a snapshot holds "
        "snapshot.json, MODULE, model.weights.h5, probe.npz, requirements.txt and "
        "nothing else)",
    ),
    "__pycache__ in the folder": (
        "dir",
        _extra("__pycache__/stores_units_snapshot.cpython-311.pyc", listed=False),
        "holds __pycache__/, which is not part of a snapshot (a snapshot holds "
        "snapshot.json, MODULE, model.weights.h5, probe.npz, requirements.txt and "
        "nothing else)",
    ),
    "__pycache__ in the zip": (
        "zip",
        _extra("__pycache__/stores_units_snapshot.cpython-311.pyc", listed=False),
        "member name '__pycache__/stores_units_snapshot.cpython-311.pyc' is not a "
        "plain file name",
    ),
    "weights named as the module": (
        "zip",
        lambda base: base.with_manifest(lambda m: m.update(weights=m["module"])),
        "manifest names MODULE as both the module and the weights",
    ),
    "module named keras.py": (
        "zip",
        lambda base: base.with_manifest(lambda m: m.update(module="keras.py")),
        "manifest names 'keras.py' as the module, which must be a file name ending in "
        "_snapshot.py",
    ),
}


@pytest.mark.parametrize("case", sorted(EXTRA_MEMBERS))
def test_members_beyond_the_format_are_refused(
    base: Parts, case: str, tmp_path: Path
) -> None:
    layout, change, why = EXTRA_MEMBERS[case]
    archive = change(base).write(tmp_path / "a.snapshot", layout=layout)  # type: ignore[operator]
    expected = f"error: {archive}: " + why.replace("MODULE", base.module_name)
    for command in ("inspect", "review", "verify"):
        code, output = _cli(command, str(archive))
        assert (code, _one_line(output)) == (1, expected)
    with pytest.raises(snapshot.ArchiveError):
        snapshot.load(archive, trust=True)


def test_inspect_lists_every_member(base: Parts, tmp_path: Path) -> None:
    archive = base.write_zip(tmp_path / "a.snapshot")
    code, output = _cli("inspect", str(archive))
    assert code == 0
    members = output.split("  members\n")[1].split("  sources")[0].splitlines()
    assert [line.split()[0] for line in members] == [*base.members, "snapshot.json"]
    code, output = _cli("inspect", "--json", str(archive))
    described = json.loads(output)
    assert [m["name"] for m in described["members"]] == [*base.members, "snapshot.json"]
    assert described["lint"]["note"].startswith("advice only")


# Module text ------------------------------------------------------------------------


MODULE_CASES = {
    "syntax error": (
        lambda module: module + "\ndef broken(:\n",
        "does not compile: line {end}: invalid syntax",
    ),
    "return outside a function": (
        lambda module: module + "\nreturn 1\n",
        "does not compile: line {end}: 'return' outside function",
    ),
    "byte-order mark": (
        lambda module: "\ufeff" + module,
        "starts with a byte-order mark; a snapshot module is plain UTF-8",
    ),
    "latin-1 cookie": (
        lambda module: "# coding: latin-1\n" + module,
        "declares the iso-8859-1 encoding; a snapshot module is UTF-8, so what is "
        "reviewed is what runs",
    ),
    "unknown cookie": (
        lambda module: "# -*- coding: nope -*-\n" + module,
        "declares an encoding Python refuses: unknown encoding: nope",
    ),
}


@pytest.mark.parametrize("case", sorted(MODULE_CASES))
def test_a_module_python_would_read_otherwise_is_refused(
    base: Parts, case: str, tmp_path: Path
) -> None:
    change, why = MODULE_CASES[case]
    text = change(base.module.decode())
    archive = base.with_module(text).write_zip(tmp_path / "a.snapshot")
    end = text.count("\n")
    expected = f"error: {archive}: module {base.module_name} " + why.format(
        end=end, module=base.module_name
    )
    for command in ("inspect", "review", "verify"):
        code, output = _cli(command, str(archive))
        assert (code, _one_line(output)) == (1, expected)
    with pytest.raises(snapshot.ArchiveError):
        snapshot.load(archive, trust=True)


def test_a_module_that_is_not_utf8_is_refused(base: Parts, tmp_path: Path) -> None:
    archive = base.with_module(base.module + b"\n# \xff\xfe\n").write_zip(
        tmp_path / "a.snapshot"
    )
    code, output = _cli("review", str(archive))
    assert (code, _one_line(output)) == (
        1,
        f"error: {archive}: module {base.module_name} is not UTF-8 text "
        f"(byte {len(base.module) + 3})",
    )


# Control characters -------------------------------------------------------------------


def _unprintable(text: str) -> list[str]:
    return sorted({c for c in text if not c.isprintable() and c != "\n"})


def test_control_characters_never_reach_the_terminal(
    base: Parts, tmp_path: Path
) -> None:
    evil = "\x1b[2J\x1b[H\x1b]0;owned\x07\r\u202efake\u200b"

    def change(manifest: dict) -> None:  # type: ignore[type-arg]
        manifest["class"] = "Model" + evil
        manifest["created"] = evil
        manifest["versions"]["keras"] = evil
        manifest["source"]["module"] = evil
        manifest["source"]["files"] = {evil: "0" * 64}
        manifest["definitions"] = [
            {"names": [evil], "origin": evil, "left_out": [evil]}
        ]
        manifest["requirements"] = {evil: evil}

    # A comment whose \r ends it for Python, then a comment with a bidi override.
    hidden = "# \x1b[2J\x1b[H\x1b]0;owned\x07\r# \u202efake\u200b"
    module = base.module.decode() + f"\nNOTE = {evil!r}\n{hidden}\n"
    archive = (
        base.with_module(module)
        .with_manifest(change)
        .write_zip(tmp_path / "a.snapshot")
    )
    for command in ("inspect", "review", "verify"):
        code, output = _cli(command, str(archive))
        assert code in (0, 5), output
        assert _unprintable(output) == [], command
    code, output = _cli("review", str(archive))
    flagged = [
        line.split("!", 1)[1]
        for line in output.splitlines()
        if re.match(r"^ *[0-9]+!", line)
    ]
    assert flagged == [
        " # \\x1b[2J\\x1b[H\\x1b]0;owned\\x07\\r",
        " # \\u202efake\\u200b",
    ]
    # The lint names them too.
    assert "holds characters a terminal hides: U+0007, U+001B" in output
    assert "holds characters a terminal hides: U+200B, U+202E" in output
    with pytest.raises(snapshot.UntrustedArchiveError) as raised:
        snapshot.load(archive)
    assert _unprintable(str(raised.value)) == []


def test_a_member_name_with_control_characters_is_escaped(
    base: Parts, tmp_path: Path
) -> None:
    archive = base.with_member("evil\x1b[2J.txt", b"x", listed=False).write_zip(
        tmp_path / "a.snapshot"
    )
    code, output = _cli("inspect", str(archive))
    assert (code, _one_line(output)) == (
        1,
        f"error: {archive}: member name 'evil\\x1b[2J.txt' is not a plain file name",
    )


# Manifest types -----------------------------------------------------------------------


_WRONG_VALUES = (None, True, -1, 1.5, 10**400, "x", [], {}, [1], {"a": 1}, ["x"])


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def test_wrong_types_anywhere_in_the_manifest_are_bad_input(
    base: Parts, tmp_path: Path
) -> None:
    """Every field, wrong types: one line and exit 1, or a working load; never a crash."""
    outcomes: dict[str, int] = {}
    # As a verified save writes it, so that its numbers are fields too.
    record = {"method": "m", "max_abs_diff": 0.0, "tolerance": 1e-6, "variables": 2}
    base = base.with_manifest(lambda m: m.update(verification=record))
    paths = _paths(base.manifest)
    assert len(paths) > 40
    for index, path in enumerate(paths):
        # None, and two others in turn: every value meets many kinds of field.
        for value in (
            None,
            *(_WRONG_VALUES[(index + k) % len(_WRONG_VALUES)] for k in (1, 6)),
        ):

            def change(manifest: dict, path: tuple = path, value: object = value) -> None:  # type: ignore[type-arg]
                target = manifest
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = value

            archive = base.with_manifest(change).write_zip(tmp_path / "m.snapshot")
            for command in ("inspect", "review"):
                code, output = _cli(command, str(archive))
                assert code in (0, 1) and len(output.strip().splitlines()) >= 1, (
                    path,
                    value,
                    output,
                )
                if code == 1:
                    _one_line(output)
                outcomes[f"{command} {code}"] = outcomes.get(f"{command} {code}", 0) + 1
            try:
                snapshot.load(archive, trust=True)
                outcomes["loaded"] = outcomes.get("loaded", 0) + 1
            except snapshot.SnapshotError:
                outcomes["refused"] = outcomes.get("refused", 0) + 1
            archive.unlink()
    assert outcomes["inspect 1"] > 0 and outcomes["refused"] > 0, outcomes


def test_a_non_finite_number_in_the_manifest_is_refused(
    base: Parts, tmp_path: Path
) -> None:
    record = {
        "method": "m",
        "max_abs_diff": float("inf"),
        "tolerance": 1,
        "variables": 1,
    }
    archive = base.with_manifest(lambda m: m.update(verification=record)).write_zip(
        tmp_path / "a.snapshot"
    )
    code, output = _cli("inspect", str(archive))
    assert (code, _one_line(output)) == (
        1,
        f"error: {archive}: snapshot.json is not JSON: Infinity is not a number JSON "
        "allows",
    )


def test_the_hostile_catalogue_is_documented() -> None:
    from cases import REPO

    documented = (REPO / "docs" / "bad-input.md").read_text()
    rows = set(re.findall(r"^\| ([^|]+?) \|", documented, flags=re.MULTILINE))
    catalogue = (
        set(HDF5_CASES)
        | set(PROBE_CASES)
        | set(EXTRA_MEMBERS)
        | set(MODULE_CASES)
        | set(BOMBS)
        | set(MALFORMED)
        | {
            "module not UTF-8",
            "member name with control characters",
            "non-finite number in the manifest",
            # tests/functional/test_trust.py
            "module not trusted",
            "pinned hash differs",
            "reviewed module changed",
            "malformed trust argument",
            "bare --trust before ARCHIVE",
        }
    )
    assert catalogue - rows == set()
