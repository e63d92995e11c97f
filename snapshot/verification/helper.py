"""The warm verifier: a ``python -I`` process that imports Keras once and forks checks.

It is started by :mod:`snapshot.verification.warm` in an empty folder, with
the verifying child's environment (accelerators hidden). It imports Keras, its
backend and the check, runs nothing else, and then keeps two *spares*:
children forked in advance that start the backend's runtime (see
:func:`_warm_up`) and wait. A request is handed to the older spare, which
first blocks that request's packages and limits its memory
(:func:`snapshot.verification.isolation.isolate`), then does exactly what a
fresh verifying interpreter does, answers, and exits. The helper supervises
it: past the timeout it kills the spare's process group. Then it forks a
spare to replace it. Two, because a spare's warm-up takes about as long as
a small model's check: with one, a save right after another waited for it.
No archive's code ever runs in the helper itself, and every check starts
from the same state.

The runtime is started in the spare, never in the helper: a runtime's thread
pools do not survive a fork. The helper reports why it must not fork (see
:func:`snapshot.verification.device.fork_hazard`) and the saving process then
verifies in a fresh interpreter instead.

Protocol: one JSON object per line. The helper writes ``{"ready": ...}`` once,
then answers each request (``archive``, ``blocked``, ``module_sha256``,
``folder``, ``timeout``, ``memory``) with ``{"outcome": ...}`` or ``{"unavailable": reason}``.
It exits when its input closes, when it is told to, or when its parent dies.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: ``prctl`` option: a signal sent to this process when its parent dies (Linux).
_PR_SET_PDEATHSIG = 1
#: Spares kept warmed up and waiting.
SPARES = 2
#: Exit status of a spare whose warm-up failed: it never took a request.
_WARM_UP_FAILED = 3
#: Seconds a spare that answered gets to exit before it is killed.
_EXIT_GRACE = 10.0
#: Name of the spare's output file in a request's folder.
OUTPUT_NAME = "output.txt"
#: Subfolder of a request's folder that the check runs in (its cwd and TMPDIR).
WORK_NAME = "work"


def main() -> None:
    """Entry point: ``python -I -c '...main()' PARENT_PID TIE_TO_PARENT``."""
    parent, tie = int(sys.argv[1]), sys.argv[2] == "1"
    if tie:
        die_with_parent(signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the tie was made
        return
    # Answers go out on a private copy of stdout; anything else printed goes to stderr.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    helper = Helper(answers)
    signal.signal(signal.SIGTERM, helper.stop_on_signal)
    helper.serve()


def die_with_parent(signal_number: int) -> None:
    """Ask Linux to send ``signal_number`` when this process's parent dies."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0)


@dataclass(frozen=True)
class Spare:
    """A forked child waiting for one request."""

    pid: int
    #: Write end of its request pipe.
    requests: int
    #: Read end of its answer pipe.
    answers: int


class Helper:
    """The helper's loop: read requests, hand each to a spare, answer."""

    def __init__(self, answers: Any) -> None:
        self.answers = answers
        #: Spares waiting for a request, oldest (most likely warmed up) first.
        self.spares: list[Spare] = []
        #: The spare checking a request, if one is.
        self.busy: Spare | None = None
        #: Spares killed after answering, reaped once their answer is sent.
        self.killed: list[int] = []
        self.request_folder: Path | None = None

    def serve(self) -> None:
        try:
            hazard = self._start()
            if not hazard:
                self._fork_spares()
            for line in _lines(sys.stdin.fileno()):
                request = json.loads(line)
                if request.get("shutdown"):
                    break
                self._answer(self._run(request))
                while self.killed:
                    _reap(self.killed.pop(), block=True)
                if not hazard:
                    self._fork_spares()
        finally:
            self.shut_down()

    def shut_down(self) -> None:
        """Stop the spares and remove the folders, with SIGTERM held off meanwhile.

        A SIGTERM that came first runs this from its handler, which exits;
        one that comes later waits, so the two never overlap.
        """
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        self._stop_spares()
        self._remove_folders()

    def stop_on_signal(self, number: int, frame: Any) -> None:
        """SIGTERM: clean up and exit at once.

        The parent's death closes the input and then sends SIGTERM, which may
        land anywhere in serve() before its cleanup: so the cleanup is
        finished here, in full, and nothing unwinds into a half-done one.
        """
        self.shut_down()
        os._exit(128 + number)

    def _start(self) -> str:
        """Import Keras and the check; say so, with any reason not to fork."""
        import keras

        # The check and all it imports (the archive reader, h5py), once, here.
        importlib.import_module("snapshot.verification.child")
        from snapshot.verification.device import fork_hazard
        from snapshot.version import __version__

        backend = keras.backend.backend()
        hazard = fork_hazard(backend)
        self._answer(
            {
                "ready": {
                    "pid": os.getpid(),
                    "backend": backend,
                    "version": __version__,
                    "hazard": hazard,
                    "paths": sys.path,
                }
            }
        )
        return hazard

    def _run(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.spares:
            return {"unavailable": "the warm verifier cannot fork here"}
        finished = None
        while self.spares:
            spare = self.spares.pop(0)
            finished = _reap(spare.pid, block=False)
            if finished is None:
                break
            _close(spare)
        else:
            return {
                "unavailable": f"the spare verifier exited early (status {finished})"
            }
        # Both kept if this is interrupted, for serve() to stop and remove.
        self.busy = spare
        self.request_folder = Path(request["folder"])
        answer = self._supervise(spare, request)
        self.request_folder = None
        return answer

    def _supervise(self, spare: Spare, request: dict[str, Any]) -> dict[str, Any]:
        """Hand ``request`` to ``spare`` and wait, at most its timeout, for the answer.

        The spare is used up either way; if this is interrupted, it is left
        in ``self.busy`` for serve() to stop.
        """
        deadline = time.monotonic() + float(request["timeout"])
        try:
            os.write(spare.requests, (json.dumps(request) + "\n").encode())
        except BrokenPipeError:
            pass  # it died meanwhile; its status says how
        received, timed_out = b"", False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            ready, _, _ = select.select(
                [spare.answers, sys.stdin.fileno()], [], [], remaining
            )
            if sys.stdin.fileno() in ready:
                # No request comes while one runs: readable means closed.
                raise SystemExit(0)
            if not ready:
                continue
            chunk = os.read(spare.answers, 1 << 16)
            if not chunk:
                break
            received += chunk
        answer = json.loads(received) if received.strip() else {}
        if not timed_out and not answer:
            # It ended without answering: its exit status says how.
            _wait_for_exit(spare.pid, seconds=_EXIT_GRACE)
        # Unreaped, its pid still names its process group: whatever it started
        # is killed with it and runs no more code, so the request's folder can
        # be removed at once. One that answered was only exiting.
        _kill_group(spare.pid)
        _close(spare)
        self.busy = None
        self.killed.append(spare.pid)
        status = None if answer or timed_out else _reap(self.killed.pop(), block=True)
        if "unavailable" in answer:
            return answer
        return {
            "outcome": {
                "found": answer.get("found"),
                "returncode": 0 if answer else status,
                "timed_out": timed_out,
                "last_error_line": _last_line(Path(request["folder"]) / OUTPUT_NAME),
            }
        }

    def _answer(self, message: dict[str, Any]) -> None:
        self.answers.write(json.dumps(message) + "\n")
        self.answers.flush()

    def _fork_spares(self) -> None:
        # A SIGTERM between the fork and the append would miss the new spare.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            while len(self.spares) < SPARES:
                self.spares.append(fork_spare(self.answers.fileno(), self.spares))
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def _stop_spares(self) -> None:
        running = [spare for spare in (self.busy, *self.spares) if spare is not None]
        self.busy, self.spares = None, []
        for spare in running:
            _kill_group(spare.pid)
            _reap(spare.pid, block=True)
            _close(spare)
        while self.killed:
            _reap(self.killed.pop(), block=True)

    def _remove_folders(self) -> None:
        """Remove this helper's folder and the running request's, if any.

        Normally the saving process removes them too; when it was killed,
        nothing else would. (Its input closes before it is gone, so whether it
        is still alive cannot be told reliably here.)
        """
        if self.request_folder is not None:
            shutil.rmtree(self.request_folder, ignore_errors=True)
        own = Path.cwd().parent
        if own.name.startswith("snapshot-verifier-"):
            shutil.rmtree(own, ignore_errors=True)


def fork_spare(helper_answers: int, others: list[Spare]) -> Spare:
    """Fork a child that warms the backend up and waits for one request.

    The child closes ``helper_answers``, the helper's own channel to the
    saving process, and the pipes of the ``others`` spares: nothing the check
    runs can write to the saving process, or hand another spare a request or
    read its answer.
    """
    request_read, request_write = os.pipe()
    answer_read, answer_write = os.pipe()
    helper = os.getpid()
    pid = os.fork()
    if pid == 0:  # the spare
        status = 1
        try:
            for fd in (request_write, answer_read, helper_answers):
                os.close(fd)
            for other in others:
                _close(other)
            status = _spare(request_read, answer_write, helper=helper)
        finally:
            os._exit(status)
    # Set from both sides: whichever runs first, the group exists before a kill.
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    os.close(request_read)
    os.close(answer_write)
    return Spare(pid, request_write, answer_read)


def _spare(requests: int, answers: int, *, helper: int) -> int:
    """What the spare does; returns its exit status."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    # Killed with the helper; SIGTERM and SIGINT as in any fresh process.
    die_with_parent(signal.SIGKILL)
    if os.getppid() != helper:  # the helper died before the tie was made
        return 0
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    try:
        _warm_up()
    except Exception:
        return _WARM_UP_FAILED
    line = next(_lines(requests), None)
    if line is None:
        return 0
    request = json.loads(line)
    answer = _check(request)
    with os.fdopen(answers, "w", encoding="utf-8") as out:
        out.write(json.dumps(answer))
    return 0


def _warm_up() -> None:
    """Start the backend's runtime and run its common kernels once.

    Every check needs the runtime (TensorFlow's eager context and thread
    pools, oneDNN's kernels); started here, before the request, it is off the
    saving process's critical path. Only backend operations run: no layer,
    variable or name is created, so Keras' global state stays as a fresh
    interpreter has it (``clear_session`` would not restore it exactly, and
    would drop the kernels just made).
    """
    import keras
    import numpy as np

    inputs = np.ones((2, 3), "float32")
    kernel = keras.random.normal((3, 2), seed=0)
    outputs = keras.ops.add(keras.ops.matmul(inputs, kernel), keras.ops.zeros((2,)))
    keras.ops.convert_to_numpy(keras.ops.relu(outputs))


def _check(request: dict[str, Any]) -> dict[str, Any]:
    """Do what the fresh verifying interpreter does, in this forked spare."""
    from snapshot.verification.child import check_in_this_process
    from snapshot.verification.isolation import already_imported, isolate

    inherited = already_imported(request["blocked"])
    if inherited:
        return {"unavailable": f"the warm verifier has imported {', '.join(inherited)}"}
    work = Path(request["folder"]) / WORK_NAME
    os.chdir(work)
    os.environ["TMPDIR"] = str(work)
    tempfile.tempdir = None  # recomputed from TMPDIR
    output = os.open(
        Path(request["folder"]) / OUTPUT_NAME, os.O_WRONLY | os.O_CREAT, 0o600
    )
    os.dup2(output, 1)
    os.dup2(output, 2)
    isolate(request["blocked"], memory_bytes=int(request["memory"]))
    found = check_in_this_process(
        request["archive"], module_sha256=request["module_sha256"]
    )
    sys.stdout.flush()
    return {"found": found}


def _lines(fd: int) -> Iterator[str]:
    """Lines read from ``fd`` until it closes."""
    buffered = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            yield line.decode("utf-8")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _reap(pid: int, *, block: bool) -> int | None:
    """Exit status of ``pid`` (negative: the signal), None while it runs."""
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return None
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def _wait_for_exit(pid: int, *, seconds: float) -> None:
    """Wait up to ``seconds`` for ``pid`` to exit, without reaping it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        if os.waitid(os.P_PID, pid, flags) is not None:
            return
        time.sleep(0.002)


def _close(spare: Spare) -> None:
    for fd in (spare.requests, spare.answers):
        with contextlib.suppress(OSError):
            os.close(fd)


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return lines.splitlines()[-1] if lines else ""
