"""Keep the last N checkpoints a callback wrote; remove older ones, never others' files."""

from __future__ import annotations

import logging
from pathlib import Path

_LOG = logging.getLogger("snapshot.checkpoint")


class Rotation:
    """The checkpoints written so far, oldest first; removes those beyond ``keep_last``."""

    def __init__(self, keep_last: int | None) -> None:
        self._keep_last = keep_last
        self._written: list[Path] = []

    def written(self, path: Path) -> list[Path]:
        """Record ``path`` as the newest checkpoint; remove and return the ones dropped.

        Called after the new checkpoint is in place, so a crash at any point
        leaves at least the last ``keep_last`` checkpoints whole.
        """
        path = path.absolute()
        if path in self._written:
            # The same file written again (a filepath without {epoch}).
            self._written.remove(path)
        self._written.append(path)
        if self._keep_last is None:
            return []
        dropped = self._written[: -self._keep_last]
        self._written = self._written[-self._keep_last :]
        for old in dropped:
            try:
                old.unlink()
            except FileNotFoundError:
                pass
            _LOG.info("removed %s (keep_last=%d)", old, self._keep_last)
        return dropped
