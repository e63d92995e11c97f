"""Each construct the analyzer cannot follow is reported with file:line and a fix."""

from __future__ import annotations

import pytest

from cases import ASSETS
from snapshot.analysis.collect import collect
from snapshot.analysis.modules import find_module
from snapshot.config import SnapshotConfig
from snapshot.errors import UnsupportedSourceError
from snapshot.model import ModelTarget


def test_every_problem_is_listed_under_its_reason() -> None:
    source = find_module("badzoo.more")
    assert source is not None
    with pytest.raises(UnsupportedSourceError) as raised:
        collect(ModelTarget(source, "AlsoBroken"), config=SnapshotConfig())
    path = ASSETS / "badzoo" / "more.py"
    assert str(raised.value) == (
        "cannot extract the model's code:\n"
        "* A first-party module is used as a value; import the names it needs instead.\n"
        f"    {path}:15  helpers is module badzoo.helpers\n"
        "* Imported first-party module was not found; check the import.\n"
        f"    {path}:15  badzoo.missing_module (for Thing)\n"
        "* Imported name is not defined in its module; check the import.\n"
        f"    {path}:15  no_such_name from badzoo\n"
        "* First-party import inside an if/try block; move it to a plain top-level import.\n"
        f"    {path}:15  from badzoo.helpers import helper binds helper in badzoo.more"
    )
