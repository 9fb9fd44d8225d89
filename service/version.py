"""The installed distribution's version, as ``--version``, the landing page and discovery tell it."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "fasciculation-cds"


def package_version() -> str:
    """The installed version (``unknown`` when run from a tree that was never installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
