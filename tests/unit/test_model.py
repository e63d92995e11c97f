"""Import records print their own statements."""

from snapshot.model import ImportItem


def test_import_item_writes_its_statement() -> None:
    assert ImportItem("numpy", alias="np").source_statement == "import numpy as np"
    assert (
        ImportItem("keras", "layers", "L").source_statement
        == "from keras import layers as L"
    )
    assert ImportItem("keras", "ops").source_statement == "from keras import ops"
    assert ImportItem("os.path").source_statement == "import os.path"


def test_import_item_bound_name() -> None:
    assert ImportItem("os.path").bound_name == "os"
    assert ImportItem("os.path", alias="osp").bound_name == "osp"
    assert ImportItem("keras", "layers").bound_name == "layers"


def test_redundant_alias_is_normalised_away() -> None:
    assert ImportItem("keras", "ops", "ops") == ImportItem("keras", "ops")
    assert ImportItem("numpy", alias="numpy").alias is None
