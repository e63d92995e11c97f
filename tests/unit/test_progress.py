"""TerminalProgress: quiet for quick operations, the stages of slow ones (no Keras here)."""

from __future__ import annotations

import io
import logging
import time

from snapshot import progress


def _run(delay: float, duration: float) -> str:
    stream = io.StringIO()
    handler = progress.TerminalProgress(stream, delay=delay)
    level = progress.LOGGER.level
    progress.LOGGER.addHandler(handler)
    progress.LOGGER.setLevel(logging.INFO)
    try:
        with progress.operation("saving x.snapshot"):
            with progress.stage("analyse"):
                time.sleep(duration)
            with progress.stage("write weights"):
                pass
    finally:
        progress.LOGGER.removeHandler(handler)
        progress.LOGGER.setLevel(level)
    return stream.getvalue()


def test_an_operation_quicker_than_the_delay_shows_nothing() -> None:
    assert _run(delay=30.0, duration=0.0) == ""


def test_a_slow_operation_shows_all_its_stages() -> None:
    lines = _run(delay=0.05, duration=0.5).splitlines()
    assert lines[:3] == ["saving x.snapshot", "  analyse", "  write weights"]
    assert lines[3].startswith("  done in ") and len(lines) == 4


def test_the_library_prints_nothing_without_a_handler(capsys) -> None:  # type: ignore[no-untyped-def]
    with progress.operation("saving x.snapshot"), progress.stage("analyse"):
        pass
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
