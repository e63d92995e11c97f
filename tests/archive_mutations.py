"""Ways to damage a snapshot archive, for the property test and bench/fuzz_archives.py."""

from __future__ import annotations

import io
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


def _rezip(data: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = [(info.filename, source.read(info)) for info in source.infolist()]
    members = change(members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
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


MUTATIONS = (
    flip_bytes,
    truncate,
    rename_member,
    duplicate_member,
    huge_declared_size,
    change_member_content,
)
