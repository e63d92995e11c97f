"""The trust model: an archive's module runs only when trusted, pinned to its sha256.

Your own archives load with the defaults (``save`` records their module);
another machine's need a pin, or ``snapshot review`` then ``snapshot trust``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import snapshot
from conftest import isolated_environment
from hostile import Parts
from snapshot.cli.commands import cli
from snapshot.trust.store import STORE_VARIABLE, default_store
from snapshot.verification.fresh import verify_in_fresh_interpreter
from statecases.models import StoresUnits

BATCH = np.ones((1, 3), "float32")


@pytest.fixture(scope="module")
def model() -> StoresUnits:
    model = StoresUnits(2)
    model(BATCH)
    return model


@pytest.fixture(scope="module")
def own(model: StoresUnits, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot.save(
        model, tmp_path_factory.mktemp("own") / "own.snapshot", verify=False
    )


@pytest.fixture
def received(own: Path, tmp_path: Path) -> tuple[Path, str]:
    """An archive with a module nobody here saved or trusted, and that module's sha256.

    The module is the saved one plus a comment: it works, so trusting it loads it.
    """
    parts = Parts.of(own)
    parts = parts.with_module(parts.module + b"\n# sent by someone else\n")
    archive = parts.write_zip(tmp_path / "received.snapshot")
    return archive, hashlib.sha256(parts.module).hexdigest()


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_saving_records_the_module_and_loading_needs_nothing_more(
    model: StoresUnits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_VARIABLE, str(tmp_path / "store"))
    for layout in ("zip", "dir"):
        path = snapshot.save(
            model, tmp_path / f"a-{layout}", layout=layout, verify=False
        )
        parts = Parts.of(path)
        digest = hashlib.sha256(parts.module).hexdigest()
        record = json.loads((default_store().folder / f"{digest}.json").read_text())
        assert record["how"] == "saved" and record["sha256"] == digest
        assert record["module"] == "stores_units_snapshot.py"
        # The first record of a module stays: both layouts hold the same module.
        assert record["archive"] == str((tmp_path / "a-zip").absolute())
        loaded = snapshot.load(path)
        np.testing.assert_array_equal(
            np.asarray(loaded(BATCH)), np.asarray(model(BATCH))
        )


def test_a_received_module_is_refused_until_trusted(
    received: tuple[Path, str], model: StoresUnits
) -> None:
    archive, digest = received
    with pytest.raises(snapshot.UntrustedArchiveError) as raised:
        snapshot.load(archive)
    assert str(raised.value) == (
        f"{archive}: refusing to run stores_units_snapshot.py (sha256:{digest}): it was "
        f"neither saved nor trusted on this machine; read it with 'snapshot review "
        f"{archive}', then run 'snapshot trust {archive}' or pass trust=\"sha256:{digest}\""
    )
    other = "0" * 64
    with pytest.raises(snapshot.UntrustedArchiveError) as raised:
        snapshot.load(archive, trust=f"sha256:{other}")
    assert str(raised.value) == (
        f"{archive}: refusing to run stores_units_snapshot.py: its sha256 is {digest}, "
        f"not the pinned {other}"
    )
    for trust in (f"sha256:{digest}", f"sha256:{digest.upper()}", True):
        loaded = snapshot.load(archive, trust=trust)
        np.testing.assert_array_equal(
            np.asarray(loaded(BATCH)), np.asarray(model(BATCH))
        )


@pytest.mark.parametrize("trust", ["yes", 1, None, "sha256:abc", f"md5:{'0' * 64}"])
def test_a_malformed_trust_argument_is_refused(
    received: tuple[Path, str], trust: object
) -> None:
    archive, _ = received
    with pytest.raises(snapshot.SnapshotError) as raised:
        snapshot.load(archive, trust=trust)  # type: ignore[arg-type]
    assert str(raised.value) == (
        f"trust must be True, False or 'sha256:<64 hex digits>', not {trust!r}"
    )


def test_review_then_trust_lets_it_run(
    received: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_VARIABLE, str(tmp_path / "store"))
    archive, digest = received
    code, output = _cli("review", str(archive))
    assert code == 0
    module = Parts.of(archive).module.decode()
    header, listing = output.split("\n\n", 1)
    assert f"  sha256    {digest}" in header
    assert "  trusted   no" in header
    assert "  lint      advice only: no static reading shows" in header
    numbered = [
        re.fullmatch(r" *([0-9]+)([ !]) (.*)", line)
        for line in listing.splitlines()[: module.count("\n")]
    ]
    assert [m.group(3) for m in numbered if m] == module.splitlines()
    assert [int(m.group(1)) for m in numbered if m and m.group(2) == " "] == list(
        range(1, module.count("\n") + 1)
    )
    assert output.rstrip().endswith(
        f"to let it run here: snapshot trust {archive} --expect sha256:{digest}"
    )
    code, output = _cli("trust", str(archive), "--expect", f"sha256:{'1' * 64}")
    assert (code, output.strip()) == (
        5,
        f"error: {archive}: stores_units_snapshot.py has sha256 {digest}, not the "
        f"expected {'1' * 64}; it changed since you reviewed it",
    )
    with pytest.raises(snapshot.UntrustedArchiveError):
        snapshot.load(archive)
    code, output = _cli("trust", str(archive), "--expect", f"sha256:{digest}")
    assert code == 0 and output.startswith(
        f"trusted sha256:{digest} (stores_units_snapshot.py): reviewed and trusted on "
        "this machine on "
    )
    record = json.loads((tmp_path / "store" / f"{digest}.json").read_text())
    assert record["how"] == "reviewed" and record["archive"] == str(archive)
    assert snapshot.load(archive).weights
    code, output = _cli("review", str(archive))
    assert "  trusted   reviewed and trusted on this machine on " in output
    assert "to let it run here" not in output
    code, output = _cli("inspect", str(archive))
    assert (
        code == 0 and "  trusted        reviewed and trusted on this machine" in output
    )
    # Withdrawing: delete the record.
    (tmp_path / "store" / f"{digest}.json").unlink()
    with pytest.raises(snapshot.UntrustedArchiveError):
        snapshot.load(archive)


def test_verify_needs_the_same_trust_as_load(received: tuple[Path, str]) -> None:
    archive, digest = received
    code, output = _cli("verify", str(archive))
    assert code == 5 and output.startswith(f"error: {archive}: refusing to run ")
    code, output = _cli("verify", str(archive), "--trust", f"sha256:{'2' * 64}")
    assert code == 5 and f"not the pinned {'2' * 64}" in output
    for trust in ([f"--trust=sha256:{digest}"], ["--trust"]):
        code, output = _cli("verify", str(archive), *trust)
        assert code == 0 and output.startswith(f"{archive}: verified"), output


def test_a_bare_trust_before_the_archive_is_a_usage_error(
    received: tuple[Path, str],
) -> None:
    archive, _ = received
    code, output = _cli("verify", "--trust", str(archive))
    assert code == 2
    assert (
        f"Invalid value for '--trust': '{archive}' is not sha256:<64 hex digits>; to "
        "trust whatever ARCHIVE holds, give a bare --trust after ARCHIVE"
    ) in output


def test_the_verifying_child_runs_only_the_pinned_module(own: Path) -> None:
    """A module swapped in after the parent decided is refused by the child."""
    digest = hashlib.sha256(Parts.of(own).module).hexdigest()
    assert verify_in_fresh_interpreter(own, blocked=(), module_sha256=digest).passed
    report = verify_in_fresh_interpreter(own, blocked=(), module_sha256="3" * 64)
    assert not report.passed
    assert report.detail == (
        f"{own}: refusing to run stores_units_snapshot.py: its sha256 is {digest}, "
        f"not the approved {'3' * 64}"
    )


def test_a_store_that_cannot_be_written_warns_and_saves(
    model: StoresUnits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv(STORE_VARIABLE, str(blocked / "store"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = snapshot.save(model, tmp_path / "a.snapshot", verify=False)
    (warning,) = [w for w in caught if "trust" in str(w.message)]
    digest = hashlib.sha256(Parts.of(path).module).hexdigest()
    assert str(warning.message).startswith(
        f"{path}: saved, but cannot record trust in {blocked / 'store'}: "
    )
    assert str(warning.message).endswith(f'load it with trust="sha256:{digest}"')
    assert snapshot.load(path, trust=f"sha256:{digest}").weights


_ELSEWHERE = """
import json, sys
import numpy as np
import snapshot
archive, digest = sys.argv[1], sys.argv[2]
found = {}
try:
    snapshot.load(archive)
    found["default"] = "loaded"
except snapshot.UntrustedArchiveError as error:
    found["default"] = str(error)
model = snapshot.load(archive, trust=f"sha256:{digest}")
found["pinned"] = np.asarray(model(np.ones((1, 3), "float32"))).tolist()
print(json.dumps(found))
"""


def _elsewhere(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """``python -I ARGS`` on "another machine": another HOME, no trust store configured."""
    env = isolated_environment()
    env["HOME"] = str(home)
    for name in (STORE_VARIABLE, "XDG_DATA_HOME"):
        env.pop(name, None)
    work = home / "work"
    work.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-I", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_pinned_hash_loads_on_another_machine(
    own: Path, model: StoresUnits, tmp_path: Path
) -> None:
    """Even your own archive is a stranger's elsewhere: pin it, or review and trust it."""
    home = tmp_path / "home"
    home.mkdir()
    digest = hashlib.sha256(Parts.of(own).module).hexdigest()
    load = _elsewhere("-c", _ELSEWHERE, str(own), digest, home=home)
    assert load.returncode == 0, load.stderr[-3000:]
    found = json.loads(load.stdout.strip().splitlines()[-1])
    assert found["default"].startswith(
        f"{own}: refusing to run stores_units_snapshot.py"
    )
    np.testing.assert_array_equal(np.asarray(found["pinned"]), np.asarray(model(BATCH)))
    # Review and trust it there (neither imports Keras), then the defaults load it.
    review = _elsewhere("-m", "snapshot", "review", str(own), home=home)
    assert review.returncode == 0 and f"sha256    {digest}" in review.stdout
    trusted = _elsewhere(
        "-m", "snapshot", "trust", str(own), "--expect", f"sha256:{digest}", home=home
    )
    assert trusted.returncode == 0, trusted.stderr
    store = home / ".local" / "share" / "keras-snapshot" / "trusted"
    assert [p.name for p in store.iterdir()] == [f"{digest}.json"]
    again = _elsewhere("-c", _ELSEWHERE, str(own), digest, home=home)
    assert json.loads(again.stdout.strip().splitlines()[-1])["default"] == "loaded"
    assert os.environ[STORE_VARIABLE] != str(store)
