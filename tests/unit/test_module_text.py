"""The module reads the same to Python and to people; what reaches a terminal is escaped."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from snapshot.archive.audit import audit_module
from snapshot.archive.module_source import decode_module, source_lines
from snapshot.archive.probe_file import check_probe
from snapshot.archive.streams import bounded
from snapshot.errors import ArchiveError, SnapshotError, one_line, printable


def _decoded(data: bytes) -> str:
    return decode_module(data, name="m_snapshot.py", where="A")


def test_plain_utf8_with_or_without_a_utf8_cookie_is_accepted() -> None:
    assert _decoded("x = 'é'\n".encode()) == "x = 'é'\n"
    for cookie in (
        "# -*- coding: utf-8 -*-",
        "# coding=UTF-8",
        "# vim: set fileencoding=utf8 :",
    ):
        text = f"{cookie}\nx = 'é'\n"
        assert _decoded(text.encode()) == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"# -*- coding: utf-7 -*-\n# +AAo-import os\n",
            "A: module m_snapshot.py declares the utf-7 encoding; a snapshot module is "
            "UTF-8, so what is reviewed is what runs",
        ),
        (
            b"#!/usr/bin/python\n# coding: latin-1\nx = 1\n",
            "A: module m_snapshot.py declares the iso-8859-1 encoding; a snapshot module "
            "is UTF-8, so what is reviewed is what runs",
        ),
        (
            b"\xef\xbb\xbfx = 1\n",
            "A: module m_snapshot.py starts with a byte-order mark; a snapshot module is "
            "plain UTF-8",
        ),
        (
            b"x = '\xff'\n",
            "A: module m_snapshot.py is not UTF-8 text (byte 5)",
        ),
        (
            b"x = 1\ndef (:\n",
            "A: module m_snapshot.py does not compile: line 2: invalid syntax",
        ),
        (
            b"x = 1\nreturn x\n",
            "A: module m_snapshot.py does not compile: line 2: 'return' outside function",
        ),
    ],
)
def test_what_python_would_read_otherwise_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ArchiveError) as raised:
        _decoded(data)
    assert str(raised.value) == message


def test_null_bytes_and_deep_nesting_are_refused_not_crashes() -> None:
    for data in (b"x = 1\x00\n", b"x = " + b"(" * 10_000 + b")" * 10_000 + b"\n"):
        with pytest.raises(ArchiveError, match="does not compile"):
            _decoded(data)


def test_lines_are_split_where_python_splits_them() -> None:
    lines = source_lines("a = 1\r\nb = 2\rc = '\x1b[2J'\nd = '\u202e'\x0c\n\n")
    assert [(line.number, line.text, line.escaped) for line in lines] == [
        (1, "a = 1\\r\\n", True),
        (2, "b = 2\\r", True),
        (3, "c = '\\x1b[2J'", True),
        (4, "d = '\\u202e'\\x0c", True),
        (5, "", False),
    ]


def test_printable_escapes_what_a_terminal_would_act_on() -> None:
    assert printable("plain é ü 日本") == "plain é ü 日本"
    assert printable("\x1b[2J\x07\u202e\u200b\xa0\t") == (
        "\\x1b[2J\\x07\\u202e\\u200b\\xa0\\t"
    )
    assert printable("a\nb\x1b", keep="\n") == "a\nb\\x1b"
    assert one_line("a\n\x1b[2Jb") == "a \\x1b[2Jb"
    assert str(SnapshotError("one\ntwo\x1b")) == "one\ntwo\\x1b"
    assert str(ArchiveError("one\ntwo\x1b")) == "one\\ntwo\\x1b"


def test_the_lint_reports_and_never_judges() -> None:
    report = audit_module(
        'import os, sys\nfrom builtins import exec as run\ngetattr(os, "sys" + "tem")\n'
        "sys.modules['os']\n().__class__.__base__.__subclasses__()\nx = '\u202e'\n",
        allowed_packages=(),
    )
    assert [str(f) for f in report.findings] == [
        "line 2: imports builtins",
        "line 3: calls getattr with a computed name",
        "line 4: uses sys.modules",
        "line 5: uses .__base__",
        "line 5: uses .__subclasses__",
        "line 6: holds characters a terminal hides: U+202E",
    ]
    assert not hasattr(report, "passed")


def test_a_bounded_stream_stops_at_its_bound() -> None:
    stream = bounded(
        io.BytesIO(bytes(100)), limit=10, on_excess=lambda: ArchiveError("x")
    )
    assert len(stream.read(10)) == 10
    with pytest.raises(ArchiveError):
        stream.read(1)
    stream = bounded(
        io.BytesIO(bytes(100)), limit=99, on_excess=lambda: ArchiveError("x")
    )
    with pytest.raises(ArchiveError):
        stream.read()
    assert len(bounded(io.BytesIO(bytes(5)), limit=5, on_excess=ValueError).read()) == 5


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_a_probe_is_checked_within_its_bound() -> None:
    probe = _npz(input_0=np.ones((2, 3), "float32"), output_0=np.zeros(4, "int64"))
    check_probe(probe, name="probe.npz", where="A", limit=1 << 20)
    with pytest.raises(ArchiveError) as raised:
        check_probe(probe, name="probe.npz", where="A", limit=100)
    assert str(raised.value) == "A: member probe.npz is larger than a probe may be"
    with pytest.raises(ArchiveError) as raised:
        check_probe(b"PK not a zip", name="probe.npz", where="A", limit=100)
    assert str(raised.value).startswith(
        "A: member probe.npz is not a readable .npz file"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("input_0.npy", b"\x93NUMPY\x01\x00\x05\x00{'x'}")
    with pytest.raises(ArchiveError, match="is not a readable .npz file"):
        check_probe(buffer.getvalue(), name="probe.npz", where="A", limit=1 << 20)
