"""Build hostile snapshot archives, as an attacker would: every hash consistent.

Whoever sends an archive writes its manifest too, so a crafted archive lists
every member with its right sha256. :class:`Parts` starts from a real archive
and changes what an attacker would (the module, the manifest, extra members,
compression, declared sizes), then writes a zip or a folder.

``PAYLOADS`` are module-level code (or a rewrite of the module) that, if it
ever runs, creates the file ``MARKER``: a test proves code did not run by
that file's absence, and proves each payload is live by running it trusted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

MANIFEST = "snapshot.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Parts:
    """A snapshot's manifest (as JSON data) and members, to change and write out."""

    manifest: dict[str, Any]
    #: Every member but the manifest, by name, in writing order.
    members: dict[str, bytes]
    #: Zip compression per member name (default: deflated).
    compression: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, archive: Path) -> Parts:
        """The parts of a zip or folder archive."""
        if archive.is_dir():
            files = {p.name: p.read_bytes() for p in sorted(archive.iterdir())}
        else:
            with zipfile.ZipFile(archive) as opened:
                files = {i.filename: opened.read(i) for i in opened.infolist()}
        manifest = json.loads(files.pop(MANIFEST))
        return cls(manifest, files)

    @property
    def module_name(self) -> str:
        return str(self.manifest["module"])

    @property
    def module(self) -> bytes:
        return self.members[self.module_name]

    def with_member(self, name: str, data: bytes, *, listed: bool = True) -> Parts:
        """``name`` holding ``data``; its hash recorded in the manifest when ``listed``."""
        manifest = copy.deepcopy(self.manifest)
        if listed:
            manifest["members"][name] = sha256(data)
        return replace(self, manifest=manifest, members=self.members | {name: data})

    def with_module(self, source: str | bytes) -> Parts:
        data = source.encode("utf-8") if isinstance(source, str) else source
        return self.with_member(self.module_name, data)

    def with_manifest(self, change: Callable[[dict[str, Any]], object]) -> Parts:
        manifest = copy.deepcopy(self.manifest)
        change(manifest)
        return replace(self, manifest=manifest)

    def compressed(self, name: str, method: int) -> Parts:
        return replace(self, compression=self.compression | {name: method})

    def manifest_bytes(self) -> bytes:
        return json.dumps(self.manifest, indent=2).encode("utf-8")

    def write_zip(self, path: Path) -> Path:
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in self.members.items():
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = self.compression.get(name, zipfile.ZIP_DEFLATED)
                archive.writestr(info, data)
            archive.writestr(MANIFEST, self.manifest_bytes())
        return path

    def write_folder(self, path: Path) -> Path:
        path.mkdir()
        for name, data in self.members.items():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (path / MANIFEST).write_bytes(self.manifest_bytes())
        return path

    def write(self, path: Path, *, layout: str) -> Path:
        return self.write_zip(path) if layout == "zip" else self.write_folder(path)


def patch_header(
    archive: Path, member: str, *, size: int | None = None, method: int | None = None
) -> None:
    """Make ``archive`` declare ``size`` bytes or compression ``method`` for ``member``.

    Both the central directory and the local header change; the data does not,
    so the archive lies about it.
    """
    data = bytearray(archive.read_bytes())
    encoded = member.encode()
    for signature, method_at, size_at, name_length_at, name_at in (
        (b"PK\x01\x02", 10, 24, 28, 46),  # central directory entry
        (b"PK\x03\x04", 8, 22, 26, 30),  # local header
    ):
        start = data.find(signature)
        while start != -1:
            (length,) = struct.unpack_from("<H", data, start + name_length_at)
            if data[start + name_at : start + name_at + length] == encoded:
                if size is not None:
                    struct.pack_into("<I", data, start + size_at, size)
                if method is not None:
                    struct.pack_into("<H", data, start + method_at, method)
            start = data.find(signature, start + 4)
    archive.write_bytes(bytes(data))


def with_raw_member(
    parts: Parts, path: Path, name: str, raw: bytes, *, method: int, size: int
) -> Path:
    """``parts`` as a zip whose member ``name`` holds ``raw``, already compressed with ``method``."""
    parts.compressed(name, zipfile.ZIP_STORED).with_member(
        name, raw, listed=False
    ).write_zip(path)
    patch_header(path, name, size=size, method=method)
    return path


# Payloads -----------------------------------------------------------------------
#
# Each takes the module's text and the marker path and returns the hostile
# module. Most append code that runs at import; some hide it where a model's
# own code runs later, or where a reader would not look.


def _appended(code: str) -> Callable[[str, Path], str]:
    return (
        lambda module, marker: module
        + "\n\n"
        + code.replace("MARKER", repr(str(marker)))
        + "\n"
    )


def _in_call(module: str, marker: Path) -> str:
    """The payload inside the model's ``call()``: runs only when the model runs."""
    head, sep, tail = module.partition("    def call(self, x):\n")
    assert sep, "the base module's model defines call(self, x)"
    return head + sep + f"        open({str(marker)!r}, 'w').close()\n" + tail


def _utf7(module: str, marker: Path) -> str:
    """Code hidden in what UTF-8 readers see as a comment; Python decodes ``+AAo-`` as a newline."""
    return (
        "# -*- coding: utf-7 -*-\n"
        f"# nothing to see here +AAo-open({str(marker)!r}, 'w').close()\n"
    )


PAYLOADS: dict[str, Callable[[str, Path], str]] = {
    "getattr(os, 'sys' + 'tem')": _appended(
        'import os\ngetattr(os, "sys" + "tem")("touch " + MARKER)'
    ),
    "from builtins import exec as run": _appended(
        'from builtins import exec as run\nrun("open(" + repr(MARKER) + ", \'w\').close()")'
    ),
    "sys.modules['os']": _appended(
        'import sys\nsys.modules["os"].system("touch " + MARKER)'
    ),
    "type.__subclasses__() chain": _appended(
        "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close']"
        '[0].__init__.__globals__["system"]("touch " + MARKER)'
    ),
    "Path.write_text": _appended(
        'import pathlib\npathlib.Path(MARKER).write_text("ran")'
    ),
    "shutil": _appended("import shutil\nshutil.copyfile(__file__, MARKER)"),
    "atexit": _appended(
        'import atexit\natexit.register(lambda: open(MARKER, "w").close())'
    ),
    "tf.io.write_file": _appended(
        'import tensorflow as tf\ntf.io.write_file(MARKER, "ran")'
    ),
    "payload in a layer's call()": _in_call,
    "vars(builtins)['ex' + 'ec']": _appended(
        'import builtins\nvars(builtins)["ex" + "ec"]("open(" + repr(MARKER) + ", \'w\').close()")'
    ),
    "__import__ by another name": _appended(
        'load = __builtins__["__import__"] if isinstance(__builtins__, dict) '
        'else __builtins__.__import__\nload("os").system("touch " + MARKER)'
    ),
    "importlib.import_module": _appended(
        'import importlib\nimportlib.import_module("subprocess").run(["touch", MARKER])'
    ),
    "decorator side effect": _appended(
        'def register(f):\n    open(MARKER, "w").close()\n    return f\n\n\n@register\ndef nothing():\n    pass'
    ),
    "default argument side effect": _appended(
        'def nothing(x=open(MARKER, "w").close()):\n    pass'
    ),
    "utf-7 coding cookie": _utf7,
}
#: Payloads that run only when the loaded model is called.
RUN_ON_CALL = frozenset({"payload in a layer's call()"})
#: Payloads the reader refuses as malformed whatever the trust (they do not read
#: the same to people and to Python); they run on the unzip-and-import path.
MALFORMED = frozenset({"utf-7 coding cookie"})


def hostile_parts(base: Parts, payload: str, marker: Path) -> Parts:
    """``base`` with the module carrying ``payload``, every hash consistent.

    ``"the manifest's own import list"`` also lists ``subprocess`` among the
    manifest's imports and requirements, which the old audit took as allowed.
    """
    module = base.module.decode("utf-8")
    if payload == MANIFEST_IMPORTS:
        code = _appended('import subprocess\nsubprocess.run(["touch", MARKER])')(
            module, marker
        )
        return base.with_module(code).with_manifest(
            lambda m: (
                m["imports"].update(subprocess="subprocess"),
                m["requirements"].update(subprocess="1.0"),
            )
        )
    return base.with_module(PAYLOADS[payload](module, marker))


MANIFEST_IMPORTS = "the manifest's own import list"
#: Every payload :func:`hostile_parts` builds.
ALL_PAYLOADS = (*PAYLOADS, MANIFEST_IMPORTS)
