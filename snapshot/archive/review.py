"""Show an archive's module for review: the code exactly as Python will decode it.

The reader has already refused modules that Python would decode otherwise
than as UTF-8, so the text below is what runs. Characters a terminal would
not show as they are (``\\r``, escape sequences, bidirectional overrides) are
escaped and their lines marked with ``!``: nothing can hide in the listing.
"""

from __future__ import annotations

from snapshot.archive.audit import audit_module
from snapshot.archive.module_source import source_lines
from snapshot.archive.reader import OpenedArchive
from snapshot.errors import printable

LINT_NOTE = (
    "advice only: no static reading shows that Python code is safe to run; "
    "trust the module only if you trust whoever sent it"
)


def review_text(opened: OpenedArchive, *, where: str, trusted: str | None) -> str:
    """The review of ``opened``: module, hash, trust status, lint, numbered listing.

    ``trusted`` says why the module is already trusted here, or is None.
    """
    manifest = opened.manifest
    lines = source_lines(opened.module_text)
    marked = sum(line.escaped for line in lines)
    report = audit_module(opened.module_text, allowed_packages=manifest.imports)
    width = len(str(len(lines)))
    header = [
        printable(where),
        f"  module    {manifest.module} ({len(opened.module_bytes)} bytes, "
        f"{len(lines)} lines, UTF-8)",
        f"  sha256    {opened.module_sha256}",
        f"  trusted   {printable(trusted) if trusted else 'no'}",
        f"  imports   {', '.join(report.imports) or '-'}",
        f"  lint      {LINT_NOTE}",
    ]
    header += [f"    line {f.line}: {f.what}" for f in report.findings] or [
        "    nothing to report"
    ]
    if marked:
        header.append(
            f"  escaped   {marked} line(s) hold characters shown escaped "
            "(\\x.., \\u....) and marked '!'"
        )
    listing = [
        f"{line.number:>{width}}{'!' if line.escaped else ' '} {line.text}"
        for line in lines
    ]
    return "\n".join([*header, "", *listing])
