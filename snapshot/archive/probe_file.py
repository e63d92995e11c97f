"""Check the probe member, ``probe.npz``, before numpy reads it.

An ``.npz`` file is itself a zip of ``.npy`` files, each with a header that
declares its shape and dtype. ``numpy.load`` accepts any zip compression and
allocates what a header declares before reading the data; with an object
dtype it would unpickle. So the probe is read here first, with the archive's
own rules: stored or deflated members only, the bytes produced counted, and
every header's declared size equal to the data that follows it.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib

from snapshot.errors import ArchiveError, one_line, printable

#: ``input_0.npy``, ``output_3.npy``: what :mod:`snapshot.capture.probe` writes.
_ARRAY_NAME = re.compile(r"^(input|output)_[0-9]{1,4}\.npy$")
_MAX_ARRAYS = 1024
_MAX_RANK = 32
#: Array kinds a probe holds: booleans, numbers, fixed-width strings, opaque
#: (bfloat16). Never objects, which numpy stores as pickles.
_ARRAY_KINDS = frozenset("biufcSUV")


def check_probe(data: bytes, *, name: str, where: str, limit: int) -> None:
    """Raise ArchiveError unless ``data`` is an npz numpy reads within ``limit`` bytes."""
    from numpy.lib import format as npy

    def refuse(why: str) -> ArchiveError:
        return ArchiveError(f"{where}: member {name} {why}")

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as probe:
            infos = probe.infolist()
            if len(infos) > _MAX_ARRAYS:
                raise refuse(f"holds {len(infos)} arrays, more than a probe")
            left = limit
            for info in infos:
                shown = printable(repr(info.filename))
                if not _ARRAY_NAME.match(info.filename):
                    raise refuse(f"holds {shown}, which is not a probe array")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise refuse(
                        f"holds {shown} compressed other than stored or deflated"
                    )
                if info.file_size > left:
                    raise refuse("is larger than a probe may be")
                with probe.open(info) as stream:
                    array_bytes = stream.read(left + 1)
                left -= len(array_bytes)
                if left < 0:
                    raise refuse("is larger than a probe may be")
                stream = io.BytesIO(array_bytes)
                version = npy.read_magic(stream)
                if version == (1, 0):
                    shape, _, dtype = npy.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, _, dtype = npy.read_array_header_2_0(stream)
                else:
                    raise refuse(f"holds {shown} in .npy format {version}")
                if dtype.hasobject or dtype.kind not in _ARRAY_KINDS or dtype.fields:
                    raise refuse(f"holds {shown} of dtype {dtype}, not a plain array")
                if len(shape) > _MAX_RANK:
                    raise refuse(f"holds {shown} of rank {len(shape)}")
                declared = math.prod(shape) * dtype.itemsize
                if declared != len(array_bytes) - stream.tell():
                    raise refuse(
                        f"holds {shown}, whose header declares {declared} bytes of "
                        f"data, not the {len(array_bytes) - stream.tell()} stored"
                    )
    except ArchiveError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,
        RuntimeError,
        TypeError,
        KeyError,
        SyntaxError,
    ) as error:
        raise refuse(f"is not a readable .npz file: {one_line(error)}") from None
