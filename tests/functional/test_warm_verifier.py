"""The warm verifier: forked checks give the fresh interpreter's verdicts, bounded.

Every case runs through both paths: a child forked from this process's warm
verifier, and a fresh ``python -I`` (``KERAS_SNAPSHOT_VERIFIER=fresh``).
Hostile modules are made by appending a few lines to a generated module and
fixing its hash, as a crafted archive would; they run pinned to that hash, as
a caller who trusts them would have them run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import snapshot
from conftest import isolated_environment
from snapshot.archive.manifest import PROBE_NAME
from snapshot.capture import probe
from snapshot.verification import warm
from snapshot.verification.limits import VerificationLimits
from snapshot.verification.report import METHODS, VerificationReport
from snapshot.verification.verifier import start_warm_verifier, verify_archive
from statecases.models import StoresUnits
from statecases.mutated import train as train_mutated
from zoo import Classifier

BATCH = np.linspace(-1, 1, 10, dtype="float32").reshape(2, 5)
PATHS = ("fork", "fresh")


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which path verifies: the warm verifier is running, or not used."""
    if request.param == "fresh":
        monkeypatch.setenv("KERAS_SNAPSHOT_VERIFIER", "fresh")
    else:
        start_warm_verifier()
    return str(request.param)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temporary folder this process gives verifying children; empty at the end."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folder archives saved without verification, one per verdict."""
    work = tmp_path_factory.mktemp("archives")
    good = Classifier(num_classes=3)
    good(BATCH)
    small = StoresUnits(2)
    small(BATCH)
    found = {
        "good": snapshot.save(good, work / "good", layout="dir", verify=False),
        "state": snapshot.save(
            train_mutated(), work / "state", layout="dir", verify=False
        ),
        "weights": snapshot.save(small, work / "weights", layout="dir", verify=False),
        "outputs": snapshot.save(good, work / "outputs", layout="dir", verify=False),
    }
    # Stored weights no variable holds (Keras alone loads this silently).
    import h5py

    with h5py.File(found["weights"] / "model.weights.h5", "a") as weights:
        weights["ghost/vars/0"] = np.zeros((3,), "float32")
    _rehash(found["weights"], "model.weights.h5")
    # Recorded outputs the model does not give.
    recorded = probe.from_bytes((found["outputs"] / PROBE_NAME).read_bytes())
    wrong = probe.Probe(recorded.inputs, tuple(o + 1 for o in recorded.outputs))
    _replace(found["outputs"], PROBE_NAME, probe.to_bytes(wrong))
    return found


def _replace(folder: Path, name: str, data: bytes) -> None:
    (folder / name).write_bytes(data)
    _rehash(folder, name)


def _rehash(folder: Path, name: str) -> None:
    manifest = json.loads((folder / "snapshot.json").read_text())
    digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    manifest["members"][name] = digest
    (folder / "snapshot.json").write_text(json.dumps(manifest))


def _module_of(folder: Path) -> Path:
    return folder / json.loads((folder / "snapshot.json").read_text())["module"]


def _lines_of(folder: Path) -> int:
    """Lines of the archive's module: an appended line comes right after."""
    return len(_module_of(folder).read_text().splitlines())


def _module_sha256(folder: Path) -> str:
    """The hash the manifest records for the module: what trusting it pins."""
    manifest = json.loads((folder / "snapshot.json").read_text())
    return str(manifest["members"][manifest["module"]])


def _hostile(source: Path, destination: Path, appended: str) -> Path:
    """A copy of the archive ``source`` whose module runs ``appended`` when imported."""
    shutil.copytree(source, destination)
    module = _module_of(destination)
    _replace(destination, module.name, (module.read_text() + appended).encode())
    return destination


def _verdict(report: VerificationReport) -> dict[str, Any]:
    """Everything a report says but which path said it (and random folder names)."""
    found = report.to_dict()
    del found["method"], found["fallback"]
    found["detail"] = re.sub(r"/\S*/snapshot-verify-\w+", "TMP", found["detail"])
    return found


def _verify(archive: Path, *, path: str, **options: Any) -> VerificationReport:
    """Verify ``archive`` pinned to its own module (unless ``options`` pin another)."""
    options.setdefault("module_sha256", _module_sha256(archive))
    report = verify_archive(archive, **options)
    assert report.method == path, report.fallback
    return report


@pytest.mark.parametrize("case", ["good", "state", "weights", "outputs"])
def test_both_paths_give_the_same_verdict(
    archives: dict[str, Path], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_warm_verifier()
    forked = snapshot.verify(archives[case])
    assert forked.method == "fork", forked.fallback
    monkeypatch.setenv("KERAS_SNAPSHOT_VERIFIER", "fresh")
    fresh = snapshot.verify(archives[case])
    assert fresh.method == "fresh"
    assert _verdict(forked) == _verdict(fresh)
    assert forked.passed == (case == "good"), forked.summary()


def test_a_child_runs_only_the_pinned_module(
    archives: dict[str, Path], path: str
) -> None:
    pinned = _verify(archives["good"], path=path, blocked=())
    assert pinned.passed, pinned.summary()
    other = "3" * 64
    report = _verify(archives["good"], path=path, blocked=(), module_sha256=other)
    assert not report.passed
    assert report.detail.endswith(
        f"its sha256 is {_module_sha256(archives['good'])}, not the approved {other}"
    )


def test_the_verdicts_are_the_expected_failures(archives: dict[str, Path]) -> None:
    start_warm_verifier()
    details = {
        case: snapshot.verify(archives[case]).detail
        for case in ("state", "weights", "outputs")
    }
    # A module-level setting the training code changed: the source's value.
    assert details["state"].startswith("outputs differ by up to "), details["state"]
    # Keras names the stored weight no variable takes.
    assert ": the weights do not fit the model: " in details["weights"]
    assert "1 of the 3 stored w" in details["weights"], details["weights"]
    assert details["outputs"] == "outputs differ by up to 1"


def test_a_saved_model_records_the_path_that_verified_it(
    tmp_path: Path, path: str
) -> None:
    model = StoresUnits(2)
    model(BATCH)
    folder = snapshot.save(model, tmp_path / "stores", layout="dir")
    manifest = json.loads((folder / "snapshot.json").read_text())
    assert manifest["verification"]["method"] == METHODS[path]


def test_module_level_state_fails_a_forked_save_too(tmp_path: Path) -> None:
    start_warm_verifier()
    with pytest.raises(snapshot.VerificationError) as raised:
        snapshot.save(train_mutated(), tmp_path / "mutated.snapshot")
    assert str(raised.value).startswith(
        "verification failed: outputs differ by up to "
    ), raised.value
    assert list(tmp_path.iterdir()) == []


def test_the_original_packages_stay_blocked(
    archives: dict[str, Path], tmp_path: Path, path: str
) -> None:
    # keras_hub is installed, so only the blocker stops the import.
    needs = _hostile(archives["good"], tmp_path / "needs", "import keras_hub\n")
    blocked = _verify(needs, path=path, blocked=("keras_hub",))
    assert not blocked.passed
    assert blocked.detail.endswith(
        f"{_module_of(needs).name}:{_lines_of(archives['good']) + 1}: ImportError: "
        "keras_hub is part of the original code, which a snapshot must not need"
    ), blocked.detail
    assert _verify(needs, path=path, blocked=()).passed


def test_a_package_the_helper_imported_is_verified_fresh(
    archives: dict[str, Path],
) -> None:
    # The helper has Keras: a fork could not block it, so a fresh interpreter does.
    start_warm_verifier()
    report = verify_archive(
        archives["good"],
        blocked=("keras",),
        module_sha256=_module_sha256(archives["good"]),
    )
    assert report.method == "fresh"
    assert report.fallback == "the warm verifier has imported keras"
    assert report.detail == (
        "loading failed: ImportError: keras is part of the original code, which a "
        "snapshot must not need"
    )
    # The helper still serves other requests.
    assert snapshot.verify(archives["good"]).method == "fork"


def test_a_module_that_sleeps_is_stopped_at_the_timeout(
    archives: dict[str, Path], tmp_path: Path, private_tmp: Path, path: str
) -> None:
    seen = tmp_path / "seen.json"
    sleeper = _hostile(
        archives["good"],
        tmp_path / "sleeper",
        "import json, os, tempfile, time\n"
        f"with open({str(seen)!r}, 'w') as seen:\n"
        "    json.dump([os.getpid(), tempfile.gettempdir()], seen)\n"
        "time.sleep(3600)\n",
    )
    # The fresh child imports TensorFlow first (seconds); the forked one has it.
    timeout = 30.0 if path == "fresh" else 3.0
    limits = VerificationLimits(timeout_seconds=timeout, memory_bytes=4 << 30)
    started = time.monotonic()
    report = _verify(sleeper, path=path, blocked=(), limits=limits)
    assert time.monotonic() - started < timeout + 10
    assert not report.passed
    assert report.detail == (
        f"verification did not finish within {timeout:g} s and was stopped "
        "(KERAS_SNAPSHOT_VERIFY_TIMEOUT sets the limit)"
    )
    pid, temporary = json.loads(seen.read_text())
    assert _gone(pid)
    # Its files were in a folder of ours, removed although it was killed.
    assert Path(temporary).is_relative_to(private_tmp)
    assert _request_folders(private_tmp) == []


def test_the_timeout_is_read_from_the_environment(
    archives: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start_warm_verifier()
    sleeper = _hostile(
        archives["good"], tmp_path / "sleeper", "import time\ntime.sleep(3600)\n"
    )
    monkeypatch.setenv("KERAS_SNAPSHOT_VERIFY_TIMEOUT", "2.5")
    report = snapshot.verify(sleeper, trust=True)
    assert report.method == "fork", report.fallback
    assert report.detail.startswith("verification did not finish within 2.5 s")


def test_a_module_that_allocates_without_bound_is_stopped(
    archives: dict[str, Path], tmp_path: Path, private_tmp: Path, path: str
) -> None:
    # Zeroed pages are mapped, not touched: without the limit this maps
    # 256 GiB of address space and goes on, using no real memory.
    hog = _hostile(
        archives["good"],
        tmp_path / "hog",
        "import numpy\n"
        "_BLOCKS = [numpy.zeros(1 << 27, 'uint8') for _ in range(2048)]\n",
    )
    limits = VerificationLimits(timeout_seconds=120, memory_bytes=1 << 30)
    report = _verify(hog, path=path, blocked=(), limits=limits)
    assert not report.passed
    assert report.detail == (
        "verification ran out of memory under its limit of 1.0 GiB "
        "(KERAS_SNAPSHOT_VERIFY_MEMORY sets the limit)"
    )
    assert _request_folders(private_tmp) == []


def test_a_crashed_child_is_reported_and_not_inherited(
    archives: dict[str, Path], tmp_path: Path, private_tmp: Path, path: str
) -> None:
    crasher = _hostile(
        archives["good"],
        tmp_path / "crasher",
        "import os, sys\nprint('about to crash', file=sys.stderr)\nos.abort()\n",
    )
    report = _verify(crasher, path=path, blocked=())
    assert not report.passed
    assert report.detail == "loading failed (killed by SIGABRT): about to crash"
    assert _request_folders(private_tmp) == []
    # The next check starts from a clean state again.
    assert _verify(archives["good"], path=path, blocked=()).passed


def test_the_helper_runs_with_accelerators_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warm.shut_down()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    start_warm_verifier()
    helper = warm.running()
    assert helper is not None
    environment = dict(
        entry.split("=", 1)
        for entry in Path(f"/proc/{helper.pid}/environ").read_text().split("\0")
        if "=" in entry
    )
    assert environment["CUDA_VISIBLE_DEVICES"] == ""
    assert environment["JAX_PLATFORMS"] == "cpu"
    assert not any(name.startswith("PYTHON") for name in environment)
    warm.shut_down()


def test_verification_runs_on_the_cpu_whatever_the_process_asks(
    archives: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # JAX refuses to start when told to use a platform this machine lacks:
    # only the CPU-only policy lets this verification run.
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setenv("JAX_PLATFORMS", "cuda")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    report = snapshot.verify(archives["good"])
    assert report.passed, report.summary()
    assert report.versions_now["backend"] == "jax"


def test_a_changed_environment_is_verified_fresh(
    archives: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    start_warm_verifier()
    monkeypatch.setenv("SNAPSHOT_TEST_SETTING", "changed")
    report = snapshot.verify(archives["good"])
    assert report.method == "fresh"
    assert report.fallback == "the environment changed since the warm verifier started"
    assert report.passed
    # The next save starts a helper for the new environment.
    start_warm_verifier()
    assert snapshot.verify(archives["good"]).method == "fork"
    warm.shut_down()


_SAVING_SCRIPT = """
import sys
import numpy as np
import snapshot
from statecases.models import StoresUnits

model = StoresUnits(2)
model(np.ones((2, 3), "float32"))
snapshot.save(model, sys.argv[1], layout="dir")
print("saved", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("ending", ["exit", "kill"])
def test_no_process_or_file_outlives_the_saving_process(
    tmp_path: Path, ending: str
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    environment = isolated_environment() | {
        "PYTHONPATH": str(Path(__file__).parents[1] / "assets"),
        "TMPDIR": str(temporary),
    }
    saving = subprocess.Popen(
        [sys.executable, "-c", _SAVING_SCRIPT, str(tmp_path / "saved")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=environment,
        text=True,
    )
    assert saving.stdout is not None and saving.stdin is not None
    assert saving.stdout.readline() == "saved\n"
    manifest = json.loads((tmp_path / "saved" / "snapshot.json").read_text())
    assert manifest["verification"]["method"] == METHODS["fork"]
    # The helper and its two spares, the used one replaced (not a zombie).
    assert _eventually(lambda: len(_live(_descendants(saving.pid))) == 3)
    descendants = _descendants(saving.pid)
    assert list(temporary.iterdir()), "the warm verifier's folder"
    if ending == "exit":
        saving.stdin.close()
    else:
        saving.kill()
    saving.wait(timeout=60)
    assert all(_gone(pid) for pid in descendants)
    assert _eventually(lambda: not list(temporary.iterdir())), list(
        temporary.rglob("*")
    )


def _request_folders(folder: Path) -> list[Path]:
    """Folders of verification requests (not of a helper started meanwhile)."""
    return [p for p in folder.iterdir() if p.name.startswith("snapshot-verify-")]


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _live(pids: list[int]) -> list[int]:
    """Those of ``pids`` that run (neither ended nor zombies)."""
    found = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        if status.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(pid)
    return found


def _gone(pid: int) -> bool:
    """Whether ``pid`` exits (and is reaped, or is no zombie of ours) within 20 s."""

    def exited() -> bool:
        try:
            status = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        # A zombie whose parent has not reaped it yet has run its last code.
        return status.rsplit(")", 1)[1].split()[0] == "Z"

    return _eventually(exited)


def _eventually(condition: Any, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_helper_has_not_started_a_runtime_it_would_fork() -> None:
    # What the helper checks before forking, checked in a process of its own.
    script = (
        "import json, threading, keras\n"
        "from snapshot.verification.device import fork_hazard\n"
        "found = [fork_hazard('tensorflow')]\n"
        "keras.ops.ones(2)\n"
        "found.append(fork_hazard('tensorflow'))\n"
        "threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
        "found.append(fork_hazard('numpy'))\n"
        "print(json.dumps(found))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", script],
        env=isolated_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found[0] == ""
    assert found[1] == "the tensorflow runtime is already initialised"
    assert found[2].startswith("Python threads are running (Thread-")


def test_the_probe_is_computed_on_the_cpu_when_an_accelerator_is_present() -> None:
    from snapshot.capture.state import capture_state
    from snapshot.verification.device import reference_outputs_scope

    model = Classifier(num_classes=3)
    model(BATCH)
    specs = capture_state(model, inputs=BATCH).inputs
    plain = probe.make_probe(model, BATCH, specs)
    # The branch a GPU machine takes; here the CPU scope must change nothing.
    with reference_outputs_scope(devices=["gpu:0"]):
        on_cpu = probe.make_probe(model, BATCH, specs)
    assert all(
        np.array_equal(a, b) for a, b in zip(plain.outputs, on_cpu.outputs, strict=True)
    )


def test_the_helper_is_reused_across_saves(tmp_path: Path) -> None:
    start_warm_verifier()
    helper = warm.running()
    assert helper is not None
    for index in range(3):
        model = StoresUnits(2)
        model(BATCH)
        snapshot.save(model, tmp_path / f"s{index}", layout="dir")
    assert warm.running() is helper
    assert os.path.exists(f"/proc/{helper.pid}")


def test_each_spare_holds_only_its_own_pipes(tmp_path: Path) -> None:
    # A spare inherits no pipe of the other's (nor can its check use one by mistake).
    start_warm_verifier()
    helper = warm.running()
    assert helper is not None
    model = StoresUnits(2)
    model(BATCH)
    assert _eventually(lambda: len(_live(_descendants(helper.pid))) == 2)
    before = set(_live(_descendants(helper.pid)))
    snapshot.save(model, tmp_path / "saved", layout="dir")  # used one, forked one

    def pipes(pid: int) -> set[str]:
        links = (os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir())
        return {link for link in links if link.startswith("pipe:")}

    def spares() -> list[int]:
        # The used one gone and its replacement forked (not the used one dying).
        found = _live(_descendants(helper.pid))
        return found if len(found) == 2 and len(set(found) - before) == 1 else []

    assert _eventually(spares)
    first, second = (pipes(pid) for pid in spares())
    shared = pipes(helper.pid)
    # Each holds its own request and answer pipes to the helper, and none of
    # the other's. (A spare still warming up may hold a pipe of its own
    # besides, which the helper does not: only shared pipes are compared.)
    assert first & shared and second & shared
    assert not first & second


_MALFORMED_SETTINGS = {
    "verification timeout malformed": (
        "KERAS_SNAPSHOT_VERIFY_TIMEOUT",
        "soon",
        "KERAS_SNAPSHOT_VERIFY_TIMEOUT must be a positive number of seconds, "
        "not 'soon'",
    ),
    "verification memory limit malformed": (
        "KERAS_SNAPSHOT_VERIFY_MEMORY",
        "8GB",
        "KERAS_SNAPSHOT_VERIFY_MEMORY must be a positive size in bytes or with a "
        "unit (512MiB, 8GiB), not '8GB'",
    ),
    "verifier choice unknown": (
        "KERAS_SNAPSHOT_VERIFIER",
        "forked",
        "KERAS_SNAPSHOT_VERIFIER must be 'auto' or 'fresh', not 'forked'",
    ),
}


@pytest.mark.parametrize("case", sorted(_MALFORMED_SETTINGS))
@pytest.mark.parametrize("command", ["model", "verify"])
def test_malformed_settings_are_one_line_and_exit_1(
    case: str,
    command: str,
    archives: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from cases import EXAMPLES
    from snapshot.cli.commands import cli

    variable, value, message = _MALFORMED_SETTINGS[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    if command == "model":
        target = f"{EXAMPLES / 'seed_custom_layer.py'}:MyModel"
        arguments = ["model", target, "--input", "1,3", "-o", "out.snapshot"]
    else:
        arguments = ["verify", str(archives["good"])]
    result = CliRunner().invoke(cli, arguments, catch_exceptions=False)
    assert (result.exit_code, result.output.strip()) == (1, f"error: {message}")
    assert list(tmp_path.iterdir()) == []
    documented = (Path(__file__).parents[2] / "docs" / "bad-input.md").read_text()
    assert (
        f"| {case} | snapshot model / verify, snapshot.save / verify | 1 | error: {message} |"
        in documented
    )


def test_a_helper_that_cannot_start_is_not_restarted_under_the_same_conditions(
    archives: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    warm.shut_down()
    # Keras refuses to import in the helper (and in the fresh interpreter).
    monkeypatch.setenv("KERAS_BACKEND", "no_such_backend")
    start_warm_verifier()
    assert warm.running() is not None
    report = snapshot.verify(archives["good"])
    assert report.method == "fresh"
    assert report.fallback == "the warm verifier did not start"
    assert not report.passed
    start_warm_verifier()
    assert warm.running() is None
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    start_warm_verifier()
    assert warm.running() is not None
    assert snapshot.verify(archives["good"]).method == "fork"


def test_saves_from_several_threads_share_the_helper(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    start_warm_verifier()

    def save(index: int) -> str:
        model = StoresUnits(2)
        model(BATCH)
        folder = snapshot.save(model, tmp_path / f"s{index}", layout="dir")
        manifest = json.loads((folder / "snapshot.json").read_text())
        return str(manifest["verification"]["method"])

    with ThreadPoolExecutor(3) as pool:
        methods = list(pool.map(save, range(6)))
    assert methods == [METHODS["fork"]] * 6
