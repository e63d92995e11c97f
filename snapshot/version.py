"""The package version and the archive format it writes."""

__version__ = "0.2.0"

#: Version of the archive layout and manifest; bumped on incompatible change.
FORMAT_VERSION = 1
