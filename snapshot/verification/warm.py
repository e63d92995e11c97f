"""The saving process's side of the warm verifier (see :mod:`snapshot.verification.helper`).

One helper per process, started when the first verified save begins (its
Keras import overlaps the analysis and the weight writing), reused by later
saves, and shut down with the process: at exit; through its input closing;
and, on Linux, by a parent-death signal when the saving process is killed.
A helper started under other conditions than now (environment, Keras
configuration, installed packages, keras-snapshot version) is not used.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapshot.verification.device import child_environment
from snapshot.verification.helper import WORK_NAME
from snapshot.verification.limits import VerificationLimits
from snapshot.verification.report import ChildOutcome
from snapshot.version import __version__

#: Seconds to wait for the helper's imports before verifying without it.
READY_TIMEOUT = 300.0
#: Seconds the helper may take beyond a child's timeout to answer.
_ANSWER_GRACE = 30.0
#: Seconds a closing helper gets to exit before it is killed.
_EXIT_GRACE = 5.0

_START = "from snapshot.verification.helper import main; main()"
#: Variables that change without changing what a check does: each request sets
#: its own TMPDIR (and its limits, ``KERAS_SNAPSHOT_*``); pytest renames the
#: current test at every phase.
_NOT_CONDITIONS = frozenset({"TMPDIR", "PYTEST_CURRENT_TEST"})


@dataclass(frozen=True)
class Conditions:
    """What a verifying interpreter started now would depend on."""

    environment: tuple[tuple[str, str], ...]
    executable: str
    version: str
    #: ``(path, mtime)`` of Keras' configuration file, which can choose the backend.
    keras_config: tuple[str, int]

    @classmethod
    def now(cls) -> Conditions:
        environment = {
            k: v
            for k, v in child_environment(os.environ).items()
            if not k.startswith("KERAS_SNAPSHOT_") and k not in _NOT_CONDITIONS
        }
        return cls(
            environment=tuple(sorted(environment.items())),
            executable=sys.executable,
            version=__version__,
            keras_config=_stamp(_keras_config_path()),
        )


class WarmVerifier:
    """A helper process and its pipes."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.conditions = Conditions.now()
        self.folder = Path(tempfile.mkdtemp(prefix="snapshot-verifier-"))
        work = self.folder / WORK_NAME
        work.mkdir()
        tie = threading.current_thread() is threading.main_thread()
        with open(self.folder / "helper.log", "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", _START, str(os.getpid()), str(int(tie))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=work,
                env=child_environment(os.environ),
                # Out of the terminal's process group: Ctrl-C is the saving
                # process's to handle, and it closes the helper.
                start_new_session=True,
            )
        self._buffer = b""
        self.ready: dict[str, Any] | None = None
        #: ``(path, mtime)`` of the helper's import path when it became ready.
        self._paths: tuple[tuple[str, int], ...] = ()
        self.closed = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def unusable(self, *, wait: bool) -> str:
        """Why this helper cannot verify now, or ``""``; ``wait``: for its imports."""
        if self.closed or self.process.poll() is not None:
            return "the warm verifier has exited"
        if self.owner != os.getpid():
            return "the warm verifier belongs to the process this one was forked from"
        if self.conditions != Conditions.now():
            return "the environment changed since the warm verifier started"
        if self.ready is None:
            if not wait:
                return "the warm verifier is still starting"
            message = self._read(timeout=READY_TIMEOUT)
            if message is None or "ready" not in message:
                return "the warm verifier did not start"
            self.ready = message["ready"]
            self._paths = tuple(_stamp(Path(p)) for p in self.ready["paths"])
        if self.ready["hazard"]:
            return f"forking is unsafe: {self.ready['hazard']}"
        if self.ready["version"] != __version__:
            return "the warm verifier runs another keras-snapshot version"
        if tuple(_stamp(Path(p)) for p in self.ready["paths"]) != self._paths:
            return "installed packages changed since the warm verifier started"
        return ""

    def run(
        self,
        archive: Path,
        *,
        blocked: tuple[str, ...],
        module_sha256: str,
        limits: VerificationLimits,
        folder: Path,
    ) -> ChildOutcome | str:
        """Check ``archive`` in a forked child; a string says why it could not be."""
        request = {
            "archive": str(Path(archive).absolute()),
            "blocked": list(blocked),
            "module_sha256": module_sha256,
            "folder": str(folder),
            "timeout": limits.timeout_seconds,
            "memory": limits.memory_bytes,
        }
        try:
            self._send(request)
            answer = self._read(timeout=limits.timeout_seconds + _ANSWER_GRACE)
        except BrokenPipeError:
            self.close()
            return "the warm verifier has exited"
        except BaseException:
            # Interrupted mid-request: its answer would be read as the next one's.
            self.close()
            raise
        if answer is None:
            self.close()
            return "the warm verifier stopped answering"
        if "unavailable" in answer:
            return str(answer["unavailable"])
        outcome = answer["outcome"]
        return ChildOutcome(
            method="fork",
            found=outcome["found"],
            returncode=outcome["returncode"],
            timed_out=outcome["timed_out"],
            last_error_line=outcome["last_error_line"],
        )

    def close(self) -> None:
        """Stop the helper (it stops its child) and remove its folder."""
        if self.closed or self.owner != os.getpid():
            return
        self.closed = True
        assert self.process.stdin is not None and self.process.stdout is not None
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # end of input: the helper exits
        try:
            self.process.wait(timeout=_EXIT_GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def forget(self) -> None:
        """In a forked copy of the saving process: let go of the pipes, leave the helper."""
        self.closed = True
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    os.close(stream.fileno())

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
        self.process.stdin.flush()

    def _read(self, *, timeout: float) -> dict[str, Any] | None:
        """The helper's next message; None when it closed or said nothing in time."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message


_CURRENT: WarmVerifier | None = None
#: Conditions under which a helper could not start or could not fork: not retried.
_REFUSED: Conditions | None = None
#: One verification at a time per process: the helper answers requests in order.
_LOCK = threading.RLock()
#: Reasons that hold as long as the conditions do.
_LASTING = ("the warm verifier did not start", "forking is unsafe: ")


def fork_available() -> bool:
    """Whether this platform forks safely: Linux only (macOS' frameworks do not)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def start() -> None:
    """Start this process's helper unless a usable one runs or none can help."""
    global _CURRENT
    if not fork_available():
        return
    with _LOCK:
        if _REFUSED is not None and _REFUSED == Conditions.now():
            return
        if _CURRENT is not None and _CURRENT.owner == os.getpid():
            reason = _CURRENT.unusable(wait=False)
            if reason in ("", "the warm verifier is still starting"):
                return
            _CURRENT.close()
        _CURRENT = WarmVerifier()


def running() -> WarmVerifier | None:
    """This process's helper, if it has one."""
    if _CURRENT is None or _CURRENT.closed or _CURRENT.owner != os.getpid():
        return None
    return _CURRENT


def verify_forked(
    archive: Path,
    *,
    blocked: tuple[str, ...],
    module_sha256: str,
    limits: VerificationLimits,
    folder: Path,
) -> ChildOutcome | str | None:
    """Check ``archive`` in a child of this process's helper.

    None when the process has no helper; a string says why the helper could
    not check it (a helper that cannot serve is shut down).
    """
    global _REFUSED
    with _LOCK:
        helper = running()
        if helper is None:
            return None
        reason = helper.unusable(wait=True)
        if reason:
            if reason.startswith(_LASTING):
                _REFUSED = helper.conditions
            shut_down()
            return reason
        return helper.run(
            archive,
            blocked=blocked,
            module_sha256=module_sha256,
            limits=limits,
            folder=folder,
        )


def shut_down() -> None:
    """Stop this process's helper, if any."""
    global _CURRENT
    # At exit a daemon thread may still hold the lock mid-request: stop anyway.
    locked = _LOCK.acquire(timeout=_EXIT_GRACE)
    try:
        if _CURRENT is not None:
            _CURRENT.close()
            _CURRENT = None
    finally:
        if locked:
            _LOCK.release()


def _after_fork_in_child() -> None:
    global _CURRENT
    if _CURRENT is not None:
        _CURRENT.forget()
        _CURRENT = None


def _keras_config_path() -> Path:
    base = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return Path(base) / "keras.json"


def _stamp(path: Path) -> tuple[str, int]:
    try:
        return str(path), path.stat().st_mtime_ns
    except OSError:
        return str(path), 0


atexit.register(shut_down)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
