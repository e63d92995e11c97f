"""The stages of long operations (save, verify), told through :mod:`logging`.

The API logs each stage to the ``snapshot`` logger at INFO and prints nothing
itself. The command line attaches a :class:`TerminalProgress`, which shows
an operation's stages on a terminal once it has run for about a second, so
quick commands stay quiet.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import TextIO

LOGGER = logging.getLogger("snapshot")
# A library logs and leaves output to the application.
LOGGER.addHandler(logging.NullHandler())

#: The attribute of a log record that carries a progress event.
_EVENT = "snapshot_progress"
#: Operations that finish sooner than this show nothing.
DEFAULT_DELAY = 1.0


@contextlib.contextmanager
def operation(description: str) -> Iterator[None]:
    """An operation, ``saving model.snapshot``; its stages are logged inside it."""
    start = time.perf_counter()
    LOGGER.info("%s", description, extra={_EVENT: ("start", description)})
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        LOGGER.info(
            "%s: done in %.1f s",
            description,
            elapsed,
            extra={_EVENT: ("end", f"done in {elapsed:.1f} s")},
        )


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """One stage of the current operation (``analyse``, ``write weights``, ``verify``)."""
    start = time.perf_counter()
    LOGGER.info("  %s", name, extra={_EVENT: ("stage", name)})
    yield
    LOGGER.debug("  %s took %.2f s", name, time.perf_counter() - start)


class TerminalProgress(logging.Handler):
    """Writes an operation's stages to ``stream`` once it has run for ``delay`` seconds.

    Before that nothing is written; then the operation and the stages so far
    appear at once, and later stages as they start.
    """

    def __init__(self, stream: TextIO, *, delay: float = DEFAULT_DELAY) -> None:
        super().__init__(level=logging.INFO)
        self._stream = stream
        self._delay = delay
        self._lock = threading.Lock()
        self._depth = 0
        self._shown = False
        self._waiting: list[str] = []
        self._timer: threading.Timer | None = None

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, _EVENT, None)
        if event is None:
            return
        kind, text = event
        with self._lock:
            if kind == "start":
                self._start(text)
            elif kind == "stage":
                self._show_or_keep(f"  {text}")
            elif self._depth:
                self._end(text)

    def _start(self, description: str) -> None:
        self._depth += 1
        if self._depth > 1:
            return
        self._shown = False
        self._waiting = [description]
        self._timer = threading.Timer(self._delay, self._reveal)
        self._timer.daemon = True
        self._timer.start()

    def _end(self, summary: str) -> None:
        self._depth -= 1
        if self._depth:
            return
        if self._timer is not None:
            self._timer.cancel()
        if self._shown:
            self._write(f"  {summary}")

    def _show_or_keep(self, line: str) -> None:
        if self._shown:
            self._write(line)
        elif self._depth:
            self._waiting.append(line)

    def _reveal(self) -> None:
        with self._lock:
            if self._depth and not self._shown:
                self._shown = True
                for line in self._waiting:
                    self._write(line)

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()
