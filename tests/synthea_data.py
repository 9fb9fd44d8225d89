"""The Synthea R4 bundles the tests read: fixtures/synthea-r4/ (trimmed, gzip), or the folder in $SYNTHEA_R4_DIR."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SYNTHEA_DIR = Path(os.environ.get("SYNTHEA_R4_DIR") or ROOT / "fixtures" / "synthea-r4")
SUFFIXES = (".json", ".json.gz")


def synthea_paths(directory: Path = SYNTHEA_DIR) -> list[Path]:
    """The bundle files (``*.json`` or ``*.json.gz``), sorted by name."""
    return sorted(path for path in directory.glob("*.json*") if path.name.endswith(SUFFIXES))


def synthea_path(stem: str, directory: Path = SYNTHEA_DIR) -> Path:
    """The one bundle whose name starts with ``<stem>_`` (e.g. ``Josue_Sipes``)."""
    found = [path for path in synthea_paths(directory) if path.name.startswith(f"{stem}_")]
    if len(found) != 1:
        raise FileNotFoundError(f"expected one Synthea bundle named {stem}_* in {directory}, found {len(found)}")
    return found[0]


def read_bundle(path: Path) -> dict[str, Any]:
    """One bundle, decompressed when its name ends in ``.gz``."""
    data = path.read_bytes()
    bundle: dict[str, Any] = json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)
    return bundle


def bundle_name(path: Path) -> str:
    """The file name without ``.json`` / ``.json.gz`` (e.g. ``Madalyn_Frami_b0e18f77-…``)."""
    return path.name.removesuffix(".gz").removesuffix(".json")
