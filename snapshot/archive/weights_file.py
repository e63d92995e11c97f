"""Check the weights file with h5py before Keras (or anything else) reads it.

An HDF5 dataset declares its shape and dtype apart from the bytes it stores:
a file of a few kilobytes can declare terabytes (unallocated storage reads as
fill values), compress them behind a filter, or point outside the file
(external links, external storage, virtual datasets). Keras' own
``save_weights`` writes plain datasets whose bytes are in the file; so every
dataset must be one, and the datasets together must fit in the file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from snapshot.errors import ArchiveError, one_line, printable

#: Dataset kinds Keras writes: booleans, numbers, opaque (bfloat16).
_DATASET_KINDS = frozenset("biufcV")
_MAX_RANK = 32
#: Objects (groups and datasets) in a weights file; BERT-base has about 400.
MAX_OBJECTS = 1 << 20


def check_weights_file(path: Path, *, name: str, where: str) -> None:
    """Raise ArchiveError unless every dataset in ``path`` is plain and stored in it."""
    import h5py

    file_size = path.stat().st_size

    def refuse(why: str) -> ArchiveError:
        return ArchiveError(f"{where}: member {name} {why}")

    try:
        with h5py.File(path, "r") as weights:
            links: list[tuple[str, Any]] = []
            weights.visit_links(
                lambda link: _collect(links, link, weights.get(link, getlink=True))
            )
            for link, kind in links:
                if not isinstance(kind, h5py.HardLink):
                    raise refuse(
                        f"holds a {type(kind).__name__} at {printable(link)}; "
                        "weights hold only their own datasets"
                    )
            objects: list[tuple[str, Any]] = [("/", weights)]
            weights.visititems(lambda path, item: _collect(objects, path, item))
            declared_total = 0
            for object_path, item in objects:
                shown = printable(object_path)
                _check_attributes(item, shown, file_size, refuse)
                if isinstance(item, h5py.Dataset):
                    declared_total += _dataset_bytes(item, shown, refuse)
                elif not isinstance(item, h5py.Group):
                    raise refuse(f"holds a {type(item).__name__} at {shown}")
            if declared_total > file_size:
                raise refuse(
                    f"declares {declared_total} bytes of weights in a file of "
                    f"{file_size}; refusing to read it"
                )
    except ArchiveError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as error:
        raise refuse(f"is not a readable HDF5 file: {one_line(error)}") from None


def _collect(found: list[tuple[str, Any]], name: str, item: Any) -> None:
    found.append((name, item))
    if len(found) > MAX_OBJECTS:
        raise ValueError(f"more than {MAX_OBJECTS} objects")


def _dataset_bytes(dataset: Any, shown: str, refuse: Any) -> int:
    """The bytes ``dataset`` declares, once its storage is known to hold them all."""
    import h5py

    plist = dataset.id.get_create_plist()
    layout = plist.get_layout()
    if layout not in (h5py.h5d.CONTIGUOUS, h5py.h5d.COMPACT, h5py.h5d.CHUNKED):
        raise refuse(f"holds a virtual or unknown dataset at {shown}")
    if plist.get_nfilters():
        raise refuse(
            f"holds a compressed or filtered dataset at {shown}; "
            "Keras writes weights unfiltered"
        )
    if plist.get_external_count():
        raise refuse(f"holds a dataset stored outside the file at {shown}")
    dtype = dataset.dtype
    if dtype.kind not in _DATASET_KINDS or dtype.fields or dtype.subdtype:
        raise refuse(f"holds a dataset of type {dtype} at {shown}")
    shape = dataset.shape or ()
    if len(shape) > _MAX_RANK:
        raise refuse(f"holds a dataset of rank {len(shape)} at {shown}")
    declared = math.prod(shape) * dtype.itemsize
    stored = dataset.id.get_storage_size()
    if declared != stored:
        raise refuse(
            f"holds a dataset at {shown} declaring {declared} bytes with "
            f"{stored} stored; refusing to read it"
        )
    return int(declared)


def _check_attributes(item: Any, shown: str, file_size: int, refuse: Any) -> None:
    total = 0
    for attribute in item.attrs:
        total += item.attrs.get_id(attribute).get_storage_size()
    if total > file_size:
        raise refuse(f"holds attributes at {shown} larger than the file")
