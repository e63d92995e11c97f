"""Describe an archive without running any of its code."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from snapshot.archive.audit import audit_module
from snapshot.archive.reader import read_archive


def describe_archive(path: Path) -> dict[str, Any]:
    """The manifest's facts and the audit of the generated module, as plain data."""
    opened = read_archive(path)
    manifest = opened.manifest
    data = manifest.to_data()
    audit = audit_module(opened.module_text, allowed_packages=manifest.imports)
    return {
        "archive": str(path),
        "class": manifest.class_name,
        "module": manifest.module,
        "source": data["source"],
        "created": manifest.created,
        "versions": data["versions"],
        "requirements": data["requirements"],
        "definitions": data["definitions"],
        "audit": {
            "passed": audit.passed,
            "imports": list(audit.imports),
            "findings": [asdict(f) for f in audit.findings],
        },
        "verification": data["verification"],
        "members": data["members"],
    }


def summary(described: dict[str, Any]) -> str:
    """The description as a few aligned, human-readable lines."""
    source = described["source"]
    versions = described["versions"]
    lines = [
        described["archive"],
        f"  class          {described['class']} (from {source.get('module')})",
        f"  module         {described['module']}",
        f"  created        {described['created'] or '-'}",
        "  versions       "
        + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        "  requirements   "
        + (", ".join(f"{k}=={v}" for k, v in described["requirements"].items()) or "-"),
        "  sources",
    ]
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
    audit = described["audit"]
    verdict = "passed" if audit["passed"] else "REFUSED without --trust"
    lines.append(f"  audit          {verdict}; imports {', '.join(audit['imports'])}")
    lines += [f"    line {f['line']}: {f['what']}" for f in audit["findings"]]
    verification = described["verification"]
    if verification:
        lines.append(
            f"  verification   max abs difference {verification.get('max_abs_diff')} "
            f"(tolerance {verification.get('tolerance')}), "
            f"{verification.get('variables')} variables; {verification.get('method')}"
        )
    else:
        lines.append("  verification   none (saved with verify=False)")
    return "\n".join(lines)
