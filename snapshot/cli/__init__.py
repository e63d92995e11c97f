"""The ``snapshot`` command line."""

from snapshot.cli.commands import cli, main

__all__ = ["cli", "main"]
