"""Describe an archive without running any of its code."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from snapshot.archive.audit import audit_module
from snapshot.archive.reader import OpenedArchive, read_archive
from snapshot.archive.review import LINT_NOTE
from snapshot.errors import printable


def describe_archive(path: Path, *, trusted: str | None = None) -> dict[str, Any]:
    """The manifest's facts, every entry and the lint of the module, as plain data.

    ``trusted`` says why the module is trusted on this machine, or is None.
    """
    return describe_opened(read_archive(path), where=str(path), trusted=trusted)


def describe_opened(
    opened: OpenedArchive, *, where: str, trusted: str | None
) -> dict[str, Any]:
    """:func:`describe_archive` for an archive already read."""
    manifest = opened.manifest
    data = manifest.to_data()
    lint = audit_module(opened.module_text, allowed_packages=manifest.imports)
    return {
        "archive": where,
        "class": manifest.class_name,
        "module": manifest.module,
        "module_sha256": opened.module_sha256,
        "trusted": trusted,
        "source": data["source"],
        "created": manifest.created,
        "versions": data["versions"],
        "requirements": data["requirements"],
        "definitions": data["definitions"],
        "lint": {
            "note": LINT_NOTE,
            "imports": list(lint.imports),
            "findings": [asdict(f) for f in lint.findings],
        },
        "verification": data["verification"],
        "members": [
            {
                "name": entry.name,
                "size": entry.size,
                "kind": entry.kind,
                "sha256": manifest.members.get(entry.name),
            }
            for entry in opened.entries
        ],
    }


def summary(described: dict[str, Any]) -> str:
    """The description as a few aligned, human-readable lines, unprintable characters escaped."""
    source = described["source"]
    versions = described["versions"]
    # A functional or Sequential model of Keras' own classes has no source module.
    origin = f"from {source['module']}" if source.get("module") else "from its graph"
    lines = [
        described["archive"],
        f"  class          {described['class']} ({origin})",
        f"  module         {described['module']}",
        f"  sha256         {described['module_sha256']}",
        f"  trusted        {described['trusted'] or 'no (see snapshot review)'}",
        f"  created        {described['created'] or '-'}",
        "  versions       "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        "  requirements   "
        + (", ".join(f"{k}=={v}" for k, v in described["requirements"].items()) or "-"),
        "  members",
    ]
    width = max(len(m["name"]) for m in described["members"])
    lines += [
        f"    {m['name']:<{width}}  {m['size']:>12} bytes  {m['kind']:<8}  "
        + (m["sha256"] or "(the manifest)")
        for m in described["members"]
    ]
    lines.append("  sources")
    lines += [
        f"    {name}  {digest}" for name, digest in source.get("files", {}).items()
    ]
    git = source.get("git")
    if git:
        dirty = " (with uncommitted changes)" if git.get("dirty") else ""
        lines.append(f"    git commit {git.get('commit')}{dirty}")
    lines.append("  definitions")
    width = max(
        (len(", ".join(d["names"])) for d in described["definitions"]), default=0
    )
    lines += [
        f"    {', '.join(d['names']):<{width}}  {d['origin']}"
        + (f"  (left out: {', '.join(d['left_out'])})" if d.get("left_out") else "")
        for d in described["definitions"]
    ]
    lint = described["lint"]
    lines.append(f"  lint           {lint['note']}")
    lines.append(f"    imports {', '.join(lint['imports']) or '-'}")
    lines += [f"    line {f['line']}: {f['what']}" for f in lint["findings"]]
    verification = described["verification"]
    if verification:
        lines.append(
            f"  verification   max abs difference {verification.get('max_abs_diff')} "
            f"(tolerance {verification.get('tolerance')}), "
            f"{verification.get('variables')} variables; {verification.get('method')}"
        )
    else:
        lines.append("  verification   none (saved with verify=False)")
    return "\n".join(printable(line) for line in lines)
