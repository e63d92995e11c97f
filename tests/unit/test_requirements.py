"""The third-party imports of a generated module, pinned, and what was not installed."""

from __future__ import annotations

import importlib.metadata

from snapshot.emit.requirements import third_party_requirements

SOURCE = """
import json
import numpy as np
from jinja2 import Template
try:
    import not_an_installed_accelerator as fast
except ImportError:
    fast = None
"""


def test_installed_imports_are_pinned_and_missing_ones_are_listed() -> None:
    found = third_party_requirements(SOURCE)
    assert found.distributions == {
        "Jinja2": importlib.metadata.version("jinja2"),
        "numpy": importlib.metadata.version("numpy"),
    }
    assert found.imports == {
        "jinja2": "Jinja2",
        "not_an_installed_accelerator": "not_an_installed_accelerator",
        "numpy": "numpy",
    }
    assert found.not_installed == ("not_an_installed_accelerator",)
    assert found.text().splitlines() == [
        f"Jinja2=={importlib.metadata.version('jinja2')}",
        f"numpy=={importlib.metadata.version('numpy')}",
        "# not_an_installed_accelerator: imported by the module, not installed when "
        "it was saved",
    ]
