"""Write checkpoints on one background thread, in order, one at a time.

Training waits only when a checkpoint is due while the previous one is still
being written; a failed write is raised on the training thread at the next
checkpoint or when training ends.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class BackgroundWriter:
    """Runs checkpoint jobs on a worker thread, at most one at a time."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future[Any] | None = None

    def submit(self, job: Callable[[], Any]) -> None:
        """Start ``job`` once the previous one has finished (raising its error)."""
        self.wait()
        if self._executor is None:
            # Worker threads are joined at interpreter exit, so a started
            # checkpoint is finished, never left half-written by a normal exit.
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="snapshot-checkpoint"
            )
        self._pending = self._executor.submit(job)

    def wait(self) -> None:
        """Block until the pending job is done; raise what it raised.

        An interrupted wait (Ctrl-C) keeps the job pending: the next capture
        refills the host arrays that job may still be writing.
        """
        pending = self._pending
        if pending is None:
            return
        try:
            pending.result()
        finally:
            if pending.done():
                self._pending = None

    def close(self) -> None:
        """Finish the pending job and stop the thread."""
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
