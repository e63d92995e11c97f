"""Ways to damage a snapshot archive, for the property test and bench/fuzz_archives.py."""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import zipfile


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        position = rng.randrange(len(mutated))
        mutated[position] ^= rng.randint(1, 255)
    return bytes(mutated)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _rezip(data: bytes, change, *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    members = change(members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as target:
        for name, content in members:
            target.writestr(name, content)
    return buffer.getvalue()


def rename_member(data: bytes, rng: random.Random) -> bytes:
    names = [
        "../escape.py",
        "/abs.py",
        "sub/dir.py",
        "x" * 300,
        ".",
        "snapshot.json",
        " ",
    ]

    def change(members):  # type: ignore[no-untyped-def]
        index = rng.randrange(len(members))
        name, content = members[index]
        members[index] = (rng.choice(names), content)
        return members

    return _rezip(data, change)


def duplicate_member(data: bytes, rng: random.Random) -> bytes:
    def change(members):  # type: ignore[no-untyped-def]
        return [*members, rng.choice(members)]

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _rezip(data, change)


def huge_declared_size(data: bytes, rng: random.Random) -> bytes:
    """Claim an enormous uncompressed size in a central-directory entry."""
    mutated = bytearray(data)
    signature = b"PK\x01\x02"
    positions = [i for i in range(len(mutated)) if mutated.startswith(signature, i)]
    if not positions:
        return bytes(mutated)
    entry = rng.choice(positions)
    # Offset 24 in a central directory header: uncompressed size (4 bytes).
    mutated[entry + 24 : entry + 28] = struct.pack(
        "<I", rng.choice([0xFFFFFFFF, 0x7FFFFFFF])
    )
    return bytes(mutated)


def change_member_content(data: bytes, rng: random.Random) -> bytes:
    """Flip bytes inside one member and zip it again: CRCs agree, the manifest does not.

    The manifest itself is left alone: it vouches for the other members, and
    nothing vouches for it (whoever edits it can edit its hashes too).
    """

    def change(members):  # type: ignore[no-untyped-def]
        index = rng.choice(
            [i for i, (name, _) in enumerate(members) if name != "snapshot.json"]
        )
        name, content = members[index]
        members[index] = (name, flip_bytes(content, rng) if content else b"x")
        return members

    return _rezip(data, change)


def _manifest_paths(value, prefix=()):  # type: ignore[no-untyped-def]
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _manifest_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _manifest_paths(item, (*prefix, index))
    return found


_WRONG_VALUES = (None, True, -1, 2.5, 10**400, "", "x" * 300, [], {}, [None], {"": 1})


def retype_manifest_field(data: bytes, rng: random.Random) -> bytes:
    """Give one field of the manifest a value of the wrong type (hashes stay right)."""

    def change(members):  # type: ignore[no-untyped-def]
        changed = []
        for name, content in members:
            if name == "snapshot.json":
                manifest = json.loads(content)
                path = rng.choice(_manifest_paths(manifest))
                target = manifest
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = rng.choice(_WRONG_VALUES)
                content = json.dumps(manifest).encode()
            changed.append((name, content))
        return changed

    return _rezip(data, change)


def rehashed_module_bytes(data: bytes, rng: random.Random) -> bytes:
    """Flip bytes of the module and record the new hash, as an attacker would."""

    def change(members):  # type: ignore[no-untyped-def]
        found = dict(members)
        manifest = json.loads(found["snapshot.json"])
        module = flip_bytes(found[manifest["module"]], rng)
        found[manifest["module"]] = module
        manifest["members"][manifest["module"]] = hashlib.sha256(module).hexdigest()
        found["snapshot.json"] = json.dumps(manifest).encode()
        return list(found.items())

    return _rezip(data, change)


def recompress(data: bytes, rng: random.Random) -> bytes:
    """Every member compressed with bzip2 or LZMA, which a snapshot never uses."""
    method = rng.choice([zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
    return _rezip(data, lambda members: members, compression=method)


MUTATIONS = (
    flip_bytes,
    truncate,
    rename_member,
    duplicate_member,
    huge_declared_size,
    change_member_content,
    retype_manifest_field,
    rehashed_module_bytes,
    recompress,
)
