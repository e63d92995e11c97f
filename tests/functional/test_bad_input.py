"""The catalogue of bad archives and bad command-line input (docs/bad-input.md).

Each case must end in one line naming the culprit, a documented exit status,
no traceback, and nothing written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import snapshot
from cases import REPO
from snapshot.cli.commands import cli
from statecases.models import StoresUnits

_MODULE = "stores_units_snapshot.py"
_WEIGHTS = "model.weights.h5"
_Members = list[tuple[zipfile.ZipInfo | str, bytes]]


@pytest.fixture(scope="module")
def good_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = StoresUnits(2)
    model(np.ones((1, 3), "float32"))
    return snapshot.save(
        model, tmp_path_factory.mktemp("good") / "good.snapshot", verify=False
    )


def _members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as opened:
        return {info.filename: opened.read(info) for info in opened.infolist()}


def _write(path: Path, members: _Members) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _with_manifest(good: Path, out: Path, change: Callable[[dict], None]) -> Path:
    members = _members(good)
    manifest = json.loads(members["snapshot.json"])
    change(manifest)
    members["snapshot.json"] = json.dumps(manifest).encode()
    return _write(out, list(members.items()))


def _changed(good: Path, out: Path, name: str, data: bytes) -> Path:
    members = _members(good)
    members[name] = data
    return _write(out, list(members.items()))


def _rehashed_module(good: Path, out: Path, code: str) -> Path:
    members = _members(good)
    members[_MODULE] = members[_MODULE] + code.encode()
    manifest = json.loads(members["snapshot.json"])
    manifest["members"][_MODULE] = hashlib.sha256(members[_MODULE]).hexdigest()
    members["snapshot.json"] = json.dumps(manifest).encode()
    return _write(out, list(members.items()))


def _symlink_member(good: Path, out: Path) -> Path:
    members = list(_members(good).items())
    link = zipfile.ZipInfo("link.txt")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _write(out, [*members, (link, b"/etc/passwd")])


def _zip_bomb(good: Path, out: Path) -> Path:
    members = _members(good)
    members[_WEIGHTS] = bytes(64 << 20)
    return _write(out, list(members.items()))


def _duplicate(good: Path, out: Path) -> Path:
    members = list(_members(good).items())
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name
        return _write(out, [*members, (_MODULE, b"print('second copy')\n")])


def _folder_with_symlink(good: Path, out: Path) -> Path:
    out.mkdir()
    for name, data in _members(good).items():
        (out / name).write_bytes(data)
    (out / _WEIGHTS).unlink()
    os.symlink("/etc/hostname", out / _WEIGHTS)
    return out


def _symlinked_archive(good: Path, out: Path) -> Path:
    os.symlink(good, out)
    return out


# id -> (make the bad archive from the good one, the one line expected; {path} is it)
ARCHIVES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "archive missing": (lambda good, out: out, "error: {path}: no such archive"),
    "not a zip file": (
        lambda good, out: (out.write_bytes(b"PK\x05 not a zip at all" * 10), out)[1],
        "error: {path}: not a readable zip archive: File is not a zip file",
    ),
    "empty file": (
        lambda good, out: (out.write_bytes(b""), out)[1],
        "error: {path}: not a readable zip archive: File is not a zip file",
    ),
    "truncated archive": (
        lambda good, out: (
            out.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
            out,
        )[1],
        "error: {path}: not a readable zip archive: File is not a zip file",
    ),
    "tampered module": (
        lambda good, out: _changed(good, out, _MODULE, b"import os\nos.system('id')\n"),
        f"error: {{path}}: member {_MODULE} was changed after the archive was written",
    ),
    "tampered weights": (
        lambda good, out: _changed(good, out, _WEIGHTS, b"\x89HDF\r\n garbage"),
        f"error: {{path}}: member {_WEIGHTS} was changed after the archive was written",
    ),
    "newer format": (
        lambda good, out: _with_manifest(
            good, out, lambda m: m.update(format_version=99)
        ),
        "error: {path}: archive format version 99 is newer than this keras-snapshot reads "
        "(up to 1); upgrade keras-snapshot",
    ),
    "older format": (
        lambda good, out: _with_manifest(
            good, out, lambda m: m.update(format_version=0)
        ),
        "error: {path}: archive format version 0 predates the first released format (1) "
        "and cannot be read",
    ),
    "not a snapshot manifest": (
        lambda good, out: _with_manifest(good, out, lambda m: m.update(format="other")),
        "error: {path}: not a keras-snapshot archive",
    ),
    "missing member": (
        lambda good, out: _write(
            out, [(n, d) for n, d in _members(good).items() if n != _WEIGHTS]
        ),
        f"error: {{path}}: member {_WEIGHTS} is missing",
    ),
    "missing manifest": (
        lambda good, out: _write(
            out, [(n, d) for n, d in _members(good).items() if n != "snapshot.json"]
        ),
        "error: {path}: not a keras-snapshot archive (no snapshot.json)",
    ),
    "manifest not JSON": (
        lambda good, out: _changed(good, out, "snapshot.json", b"{not json"),
        "error: {path}: snapshot.json is not JSON: Expecting property name enclosed in "
        "double quotes: line 1 column 2 (char 1)",
    ),
    "manifest field malformed": (
        lambda good, out: _with_manifest(good, out, lambda m: m.update(members=[1, 2])),
        "error: {path}: manifest field 'members' is missing or malformed",
    ),
    "path traversal member": (
        lambda good, out: _write(
            out, [*_members(good).items(), ("../evil.py", b"x = 1")]
        ),
        "error: {path}: member name '../evil.py' is not a plain file name",
    ),
    "absolute path member": (
        lambda good, out: _write(
            out, [*_members(good).items(), ("/tmp/evil.py", b"x = 1")]
        ),
        "error: {path}: member name '/tmp/evil.py' is not a plain file name",
    ),
    "manifest names a path": (
        lambda good, out: _with_manifest(
            good,
            out,
            lambda m: m.update(
                module="../../evil.py", members={"../../evil.py": "0" * 64}
            ),
        ),
        "error: {path}: member name '../../evil.py' is not a plain file name",
    ),
    "duplicate member": (
        _duplicate,
        f"error: {{path}}: member {_MODULE} appears twice",
    ),
    "symlink member": (
        _symlink_member,
        "error: {path}: member link.txt is a symbolic link",
    ),
    "zip bomb": (
        _zip_bomb,
        f"error: {{path}}: member {_WEIGHTS} expands 10\\d\\d times; refusing a possible zip bomb",
    ),
    "member not in manifest": (
        lambda good, out: _write(
            out, [*_members(good).items(), ("extra.py", b"x = 1")]
        ),
        "error: {path}: holds extra.py, which is not part of a snapshot (a snapshot "
        f"holds snapshot.json, {_MODULE}, model.weights.h5, probe.npz, requirements.txt "
        "and nothing else)",
    ),
    "symlinked archive": (
        _symlinked_archive,
        "error: {path}: is a symbolic link; pass the archive itself",
    ),
    "folder with symlink member": (
        _folder_with_symlink,
        f"error: {{path}}: member {_WEIGHTS} is a symbolic link",
    ),
}


@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_bad_archive_gives_one_line_and_exit_1(
    case: str, good_archive: Path, tmp_path: Path
) -> None:
    make, template = ARCHIVES[case]
    # Expectations are literal text, but for the zip bomb's ratio (zlib-dependent).
    expected = re.escape(template).replace(re.escape("10\\d\\d"), "10\\d\\d")
    expected = expected.replace(re.escape("{path}"), "{path}")
    bad = make(good_archive, tmp_path / "bad.snapshot")
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in ("inspect", "verify"):
        result = CliRunner().invoke(cli, [command, str(bad)], catch_exceptions=False)
        assert result.exit_code == 1
        assert re.fullmatch(
            expected.format(path=re.escape(str(bad))), result.output.strip()
        )
    with pytest.raises(snapshot.ArchiveError):
        snapshot.load(bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_module_nobody_here_saved_is_not_run_and_its_lint_is_advice(
    good_archive: Path, tmp_path: Path
) -> None:
    bad = _rehashed_module(
        good_archive, tmp_path / "audit.snapshot", "\nimport subprocess\n"
    )
    digest = hashlib.sha256(_members(bad)[_MODULE]).hexdigest()
    with pytest.raises(snapshot.UntrustedArchiveError) as raised:
        snapshot.load(bad)
    assert str(raised.value).startswith(
        f"{bad}: refusing to run {_MODULE} (sha256:{digest}): it was neither saved "
        "nor trusted on this machine"
    )
    # inspect describes it, lint included; the lint decides nothing.
    result = CliRunner().invoke(cli, ["inspect", str(bad)])
    assert result.exit_code == 0
    line = _members(good_archive)[_MODULE].count(b"\n") + 2
    assert f"    line {line}: imports subprocess\n" in result.output
    assert "  trusted        no (see snapshot review)" in result.output
    assert snapshot.load(bad, trust=f"sha256:{digest}").weights


def test_a_module_that_fails_to_build_is_named_with_its_line(
    good_archive: Path, tmp_path: Path
) -> None:
    # Not "the weights do not fit": the module's own code raised, and where.
    code = '\n\ndef build_model():\n    raise ValueError("units must be positive")\n'
    bad = _rehashed_module(good_archive, tmp_path / "fails.snapshot", code)
    digest = hashlib.sha256(_members(bad)[_MODULE]).hexdigest()
    line = _members(bad)[_MODULE].count(b"\n")
    with pytest.raises(snapshot.ArchiveError) as raised:
        snapshot.load(bad, trust=f"sha256:{digest}")
    assert str(raised.value) == (
        f"{bad}: {_MODULE} could not build the model: "
        f"{_MODULE}:{line}: ValueError: units must be positive"
    )
    assert not isinstance(raised.value, snapshot.WeightsError)


# Command-line input beyond tests/functional/test_cli_errors.py.
_SEED = f"{REPO / 'examples' / 'seed_custom_layer.py'}:MyModel"
_HIDES = "statecases.models:HidesUnits"
_PAIR = "statecases.rich:PairModel"


def _bad_npz(tmp: Path) -> str:
    (tmp / "bad.npz").write_bytes(b"not an npz")
    return str(tmp / "bad.npz")


def _truncated_weights(tmp: Path) -> str:
    import seed_custom_layer

    model = seed_custom_layer.MyModel()
    model(np.ones((1, 3), "float32"))
    model.save_weights(tmp / "w.weights.h5")
    data = (tmp / "w.weights.h5").read_bytes()
    (tmp / "w.weights.h5").write_bytes(data[: len(data) // 3])
    return str(tmp / "w.weights.h5")


def _bad_factories(tmp: Path) -> str:
    path = tmp / "bad_factories.py"
    path.write_text(
        "import keras\n\n\n"
        "def make_nothing():\n    return 3\n\n\n"
        "def make_unbuilt():\n    return keras.Sequential([keras.layers.Dense(2)])\n\n\n"
        "def make_named(width, **kwargs):\n    return keras.Sequential([keras.layers.Dense(width)])\n"
    )
    return str(path)


_FACTORIES = str(REPO / "tests" / "assets" / "graphnets" / "factories.py")

COMMAND_LINES: dict[str, tuple[Callable[[Path], list[str]], int, str]] = {
    "factory arguments do not fit": (
        lambda tmp: [f"{_FACTORIES}:make_sequential", "--config", '{"units": 3}'],
        1,
        "error: config names 'units', which make_sequential() does not take",
    ),
    "factory returns no model": (
        lambda tmp: [f"{_bad_factories(tmp)}:make_nothing"],
        1,
        "error: {tmp}/bad_factories.py:make_nothing() returned int, not a keras.Model",
    ),
    "factory returns an unbuilt model": (
        lambda tmp: [f"{_bad_factories(tmp)}:make_unbuilt"],
        1,
        "error: {tmp}/bad_factories.py:make_unbuilt returned an unbuilt Sequential: "
        "give --input SHAPE[:DTYPE] (e.g. --input 1,3) or --inputs FILE.npz to build it on",
    ),
    "config lacks a required argument": (
        lambda tmp: [_HIDES, "--input", "1,3"],
        1,
        "error: config lacks 'width', a required argument of HidesUnits.__init__",
    ),
    "config misspells an argument": (
        lambda tmp: [_HIDES, "--input", "1,3", "--config", '{"widht": 3}'],
        1,
        "error: config names 'widht', which HidesUnits.__init__ does not take "
        "(did you mean 'width' for 'widht'?)",
    ),
    "config misspells a required argument taken by **kwargs": (
        lambda tmp: [f"{_bad_factories(tmp)}:make_named", "--config", '{"widht": 3}'],
        1,
        "error: config lacks 'width', a required argument of make_named() "
        "(did you mean 'width' for 'widht'?); complete it: config={{'width': ...}}",
    ),
    "config file missing": (
        lambda tmp: [_HIDES, "--input", "1,3", "--config", "missing.json"],
        1,
        "error: --config missing.json: neither a JSON object nor a file",
    ),
    "config not an object": (
        lambda tmp: [_HIDES, "--input", "1,3", "--config", "[1, 2]"],
        1,
        # Doubled braces: the expected line goes through str.format.
        """error: --config [1, 2]: a JSON array, not an object of arguments (e.g. '{{"units": 4}}')""",
    ),
    "inputs do not fit": (
        lambda tmp: [_PAIR, "--input", "1,3"],
        1,
        "error: inputs do not fit PairModel: ",
    ),
    "unknown dtype": (
        lambda tmp: [_SEED, "--input", "1,3:float99"],
        1,
        "error: --input '1,3:float99': unknown dtype 'float99'",
    ),
    "inputs file missing": (
        lambda tmp: [_SEED, "--inputs", "missing.npz"],
        1,
        "error: missing.npz: no such inputs file",
    ),
    "inputs file not npz": (
        lambda tmp: [_SEED, "--inputs", _bad_npz(tmp)],
        1,
        "error: {tmp}/bad.npz: not a readable .npz file: ",
    ),
    "both --input and --inputs": (
        lambda tmp: [_SEED, "--input", "1,3", "--inputs", "x.npz"],
        1,
        "error: give either --input or --inputs, not both",
    ),
    "weights not a weights file": (
        lambda tmp: [_SEED, "--input", "1,3", "--weights", str(REPO / "README.md")],
        1,
        f"error: {REPO / 'README.md'}: weights must be a .weights.h5 or .keras file",
    ),
    "truncated weights": (
        lambda tmp: [_SEED, "--input", "1,3", "--weights", _truncated_weights(tmp)],
        1,
        "error: {tmp}/w.weights.h5: cannot load into MyModel: ",
    ),
    "output folder missing": (
        lambda tmp: [_SEED, "--input", "1,3", "-o", str(tmp / "no" / "out.snapshot")],
        1,
        "error: {tmp}/no/out.snapshot: folder {tmp}/no does not exist",
    ),
}


@pytest.mark.parametrize("case", sorted(COMMAND_LINES))
def test_bad_command_line_gives_one_line(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    arguments, code, expected = COMMAND_LINES[case]
    args = ["model", *arguments(tmp_path)]
    if "-o" not in args:
        args += ["-o", "out.snapshot"]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    output = result.output.strip()
    assert result.exit_code == code
    assert len(output.splitlines()) == 1 and "Traceback" not in output
    assert output.startswith(expected.format(tmp=tmp_path)), output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_catalogue_is_documented() -> None:
    from test_cli_errors import _BAD_INPUTS

    documented = (REPO / "docs" / "bad-input.md").read_text()
    rows = set(re.findall(r"^\| ([^|]+?) \|", documented, flags=re.MULTILINE))
    catalogue = set(ARCHIVES) | set(COMMAND_LINES) | set(_BAD_INPUTS)
    assert catalogue - rows == set()
    assert len(catalogue) >= 30
