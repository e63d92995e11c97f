"""The generated module's bytes: exactly one way to read them, the way Python does.

A person reviews the module as text and Python runs it from bytes; the two
must agree. Python decodes a source file as its coding cookie (PEP 263) or
byte-order mark says, so a ``# -*- coding: utf-7 -*-`` cookie turns what any
UTF-8 reader sees as a comment into code. A snapshot module is therefore UTF-8
with no byte-order mark and no cookie naming another encoding, and it must
compile: a module that does not is refused as a malformed archive, before
anyone runs or reviews it.
"""

from __future__ import annotations

import codecs
import io
import re
import tokenize
import warnings
from dataclasses import dataclass
from types import CodeType

from snapshot.errors import ArchiveError, one_line, printable


@dataclass(frozen=True)
class SourceLine:
    """One line of the module as Python splits it, ready for a terminal."""

    number: int
    #: The line with unprintable characters escaped (``\\x1b``, ``\\u202e``).
    text: str
    #: True when ``text`` differs from the line itself: something was escaped.
    escaped: bool


def decode_module(data: bytes, *, name: str, where: str) -> str:
    """The module's text, once it is known to mean the same to Python and to people.

    Raises ArchiveError unless ``data`` is UTF-8 without a byte-order mark,
    declares no other encoding, and compiles.
    """
    if data.startswith(codecs.BOM_UTF8):
        raise ArchiveError(
            f"{where}: module {name} starts with a byte-order mark; "
            "a snapshot module is plain UTF-8"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ArchiveError(
            f"{where}: module {name} is not UTF-8 text (byte {error.start})"
        ) from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise ArchiveError(
            f"{where}: module {name} declares an encoding Python refuses: "
            f"{one_line(error.msg)}"
        ) from None
    # "utf8", "UTF_8" and the like name the same codec.
    if codecs.lookup(encoding).name != "utf-8":
        raise ArchiveError(
            f"{where}: module {name} declares the {printable(encoding)} encoding; "
            "a snapshot module is UTF-8, so what is reviewed is what runs"
        )
    compile_module(data, name=name, where=where)
    return text


def compile_module(
    data: bytes, *, name: str, where: str, filename: str | None = None
) -> CodeType:
    """The module's code object; ArchiveError, with the line, when it does not compile.

    ``filename`` is what tracebacks name (default: ``name``).
    """
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences and the like: the model's own code, not ours to judge.
            warnings.simplefilter("ignore")
            return compile(data, filename or name, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise ArchiveError(
            f"{where}: module {name} does not compile: line {error.lineno}: "
            f"{one_line(error.msg)}"
        ) from None
    except (ValueError, RecursionError, MemoryError) as error:
        # Null bytes (ValueError before Python 3.12), nesting too deep to compile.
        raise ArchiveError(
            f"{where}: module {name} does not compile: {type(error).__name__}: "
            f"{one_line(error)}"
        ) from None


#: The line ends Python's tokenizer knows; ``str.splitlines`` knows more.
_LINE_END = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> tuple[SourceLine, ...]:
    """``text`` split into lines exactly where Python splits them, numbered as it does.

    Characters a terminal would not print faithfully are escaped, a line end
    other than ``\\n`` included, so ``\\r`` cannot hide the start of a line.
    """
    lines = []
    start = 0
    number = 1
    for match in _LINE_END.finditer(text):
        lines.append(_line(number, text[start : match.start()], match.group()))
        start = match.end()
        number += 1
    if start < len(text):
        lines.append(_line(number, text[start:], ""))
    return tuple(lines)


def _line(number: int, content: str, end: str) -> SourceLine:
    shown = printable(content) + ("" if end == "\n" else printable(end))
    return SourceLine(number, shown, shown != content)
