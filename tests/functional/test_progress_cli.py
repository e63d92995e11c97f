"""The command line shows a slow save's stages on a terminal, and only there."""

from __future__ import annotations

import logging
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import snapshot
from cases import EXAMPLES
from conftest import isolated_environment

_STAGES = ["  analyse", "  write weights", "  verify in an isolated interpreter"]


def _save_with_stderr(tmp_path: Path, *, terminal: bool, quiet: bool) -> list[str]:
    """Run a verified ``snapshot model`` (several seconds); its stderr lines."""
    command = [
        str(Path(sys.executable).with_name("snapshot")),
        "model",
        f"{EXAMPLES / 'seed_custom_layer.py'}:MyModel",
        "--input",
        "1,3",
        "-o",
        str(tmp_path / "out.snapshot"),
        *(["--quiet"] if quiet else []),
    ]
    if not terminal:
        completed = subprocess.run(
            command, env=isolated_environment(), capture_output=True, text=True
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stderr.splitlines()
    controller, terminal_end = pty.openpty()
    process = subprocess.Popen(
        command,
        env=isolated_environment(),
        stdout=subprocess.PIPE,
        stderr=terminal_end,
    )
    os.close(terminal_end)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        output += chunk
    assert process.wait() == 0
    os.close(controller)
    return output.decode().replace("\r\n", "\n").splitlines()


def test_a_slow_save_shows_its_stages_on_a_terminal(tmp_path: Path) -> None:
    lines = _save_with_stderr(tmp_path, terminal=True, quiet=False)
    assert lines[0] == f"saving {tmp_path / 'out.snapshot'}"
    assert lines[1:4] == _STAGES
    assert lines[4].startswith("  done in ") and len(lines) == 5


@pytest.mark.parametrize(
    ("terminal", "quiet"), [(True, True), (False, False)], ids=["quiet", "not-a-tty"]
)
def test_quiet_or_not_a_terminal_shows_nothing(
    tmp_path: Path, terminal: bool, quiet: bool
) -> None:
    lines = _save_with_stderr(tmp_path, terminal=terminal, quiet=quiet)
    assert not any(line in _STAGES for line in lines), lines
    assert (tmp_path / "out.snapshot").exists()


def test_the_api_logs_stages_and_prints_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    import seed_custom_layer

    model = seed_custom_layer.MyModel()
    model(np.ones((1, 3), "float32"))
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="snapshot"):
        snapshot.save(model, tmp_path / "m.snapshot", verify=False)
    assert [r.getMessage() for r in caplog.records] == [
        f"saving {tmp_path / 'm.snapshot'}",
        "  analyse",
        "  write weights",
        caplog.records[-1].getMessage(),
    ]
    assert (
        caplog.records[-1]
        .getMessage()
        .startswith(f"saving {tmp_path / 'm.snapshot'}: done in ")
    )
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""
