"""The UCUM registry from pint's cache (service/facts/unit_cache.py) converts exactly as one built from scratch."""

from __future__ import annotations

from pathlib import Path

import pytest
from ucumvert import PintUcumRegistry

from service.facts.unit_cache import ucum_cache_folder
from service.knowledge import load_knowledge

EXTRA_UNITS = ("mg/dL", "mmol/L", "meq/L", "umol/L", "g/dL", "m[IU]/L", "ng/dL", "pmol/L", "[iU]/L", "10*3/uL", "%")


def _units() -> list[str]:
    knowledge = load_knowledge()
    units = {analyte.canonical_unit for analyte in knowledge.analytes.values()}
    units |= set(knowledge.unit_aliases.values())
    units |= {target for analyte in knowledge.analytes.values() for target in analyte.unit_aliases.values()}
    return sorted(units | set(EXTRA_UNITS))


def _conversions(registry: PintUcumRegistry) -> dict[str, tuple[float, str]]:
    converted = {}
    for unit in _units():
        base = registry.from_ucum(unit).to_base_units()
        converted[unit] = (float(base.magnitude), str(base.units))
    return converted


def test_the_cached_registry_gives_the_same_conversions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = ucum_cache_folder()
    assert folder is not None and folder.is_relative_to(tmp_path)
    from_scratch = _conversions(PintUcumRegistry())
    PintUcumRegistry(cache_folder=folder)  # first use: builds and writes the cache
    assert any(folder.iterdir())
    assert _conversions(PintUcumRegistry(cache_folder=folder)) == from_scratch  # read back from the cache
    assert len(from_scratch) >= len(EXTRA_UNITS)


def test_no_cache_where_the_folder_cannot_be_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert ucum_cache_folder() is None


def test_the_cache_is_never_inside_the_repository() -> None:
    folder = ucum_cache_folder()
    repository = Path(__file__).resolve().parent.parent
    assert folder is None or not folder.resolve().is_relative_to(repository)


def test_a_truncated_cache_file_is_built_around_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers starting on an empty cache: one may read the file the other is still writing (seen under
    ``serve``, where the worker then failed to boot and took the service down). The registry is built without it."""
    from service.facts import units

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = ucum_cache_folder()
    assert folder is not None
    PintUcumRegistry(cache_folder=folder)  # writes the cache
    written = [path for path in folder.rglob("*") if path.is_file() and path.stat().st_size > 16]
    assert written
    for path in written:  # as a reader sees a file half-written by another process
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    units.registry.cache_clear()
    try:
        assert _conversions(units.registry()) == _conversions(PintUcumRegistry())
    finally:
        units.registry.cache_clear()
