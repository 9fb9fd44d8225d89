"""UCUM unit conversion (ucumvert on pint): every lab value and reference range goes through here.

Any valid UCUM expression is parsed and converted. Mass <-> mole <-> equivalent conversions use the analyte's
molar mass and valence (labs.yaml). UCUM defines ``eq`` as a plain mole, so equivalents are recognised here and
scaled by the valence. Factors are cached per (unit, analyte), so each spelling is parsed once per process.
"""

from __future__ import annotations

import functools
import logging
import pickle
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ucumvert
from lark.exceptions import LarkError
from pint import UnitRegistry
from pint.errors import PintError
from ucumvert import PintUcumRegistry
from ucumvert.parser import get_ucum_parser
from ucumvert.ucum_pint import UcumToPintTransformer

from service.facts.unit_cache import ucum_cache_folder
from service.knowledge.models import Analyte

log = logging.getLogger(__name__)

MICRO_SIGNS = ("\u00b5", "\u03bc")  # micro sign and Greek small mu, both written for UCUM's "u"
EQUIVALENT = "equivalents"
BASE = {"mass": "g/L", "substance": "mol/L", "equivalent": "eq/L"}


class UnitError(Exception):
    """A unit that is not valid UCUM (after aliases)."""


UCUM_DEFINITIONS = Path(ucumvert.__file__).resolve().parent / "pint_ucum_defs.txt"


class _OwnUcumRegistry(PintUcumRegistry):  # type: ignore[misc]  # ucumvert ships no type hints
    """ucumvert's registry, its UCUM transformer bound to this registry (built from pint's cache).

    ucumvert 0.3 binds the transformer to pint's application registry, which it then builds a second time from
    the definition files, without the cache (about 0.8 s of every start). Same definitions, one registry.
    """

    def _after_init(self) -> None:
        UnitRegistry._after_init(self)  # pint's own definitions (cached)
        self._build_cache(self.load_definitions(UCUM_DEFINITIONS))  # then UCUM's, as ucumvert does
        self._ucum_parser = get_ucum_parser()
        self._from_ucum_transformer = UcumToPintTransformer(ureg=self).transform


@functools.cache
def registry() -> PintUcumRegistry:
    """The UCUM registry, built once per process (about 1.5 s; 0.3 s from pint's cache, see unit_cache).

    A cache file another process is still writing (two workers starting on an empty cache) reads as truncated:
    then this process builds the registry without the cache rather than failing to start.
    """
    folder = ucum_cache_folder()
    if folder is not None:
        try:
            return _OwnUcumRegistry(cache_folder=folder)
        except (EOFError, pickle.UnpicklingError, OSError, ValueError, AttributeError) as exc:
            log.warning("unit cache unreadable (%s): building the unit registry without it", type(exc).__name__)
    return _OwnUcumRegistry(cache_folder=None)


def _normalise(unit: str) -> str:
    text = unicodedata.normalize("NFC", unit.strip())
    for sign in MICRO_SIGNS:
        text = text.replace(sign, "u")
    return text


def resolve(unit: str | None, aliases: Mapping[str, str]) -> str | None:
    """A unit spelling mapped to UCUM: micro signs as ``u``, then the alias table for non-UCUM spellings."""
    if unit is None or not unit.strip():
        return None
    text = _normalise(unit)
    return aliases.get(text, text)


@functools.lru_cache(maxsize=4096)
def _quantity(unit: str) -> Any:
    try:
        return registry().from_ucum(unit)
    except (LarkError, PintError, ValueError, KeyError) as exc:  # what ucumvert raises for text that is not UCUM
        raise UnitError(unit) from exc


def is_ucum(unit: str) -> bool:
    """Whether ``unit`` parses as UCUM."""
    try:
        _quantity(unit)
    except UnitError:
        return False
    return True


def _kind(quantity: Any) -> str | None:
    if not hasattr(quantity, "dimensionality"):  # a bare annotation ("{titer}") parses to a token, not a quantity
        raise UnitError(str(quantity))
    dims = str(quantity.dimensionality)
    if dims == "[mass] / [length] ** 3":
        return "mass"
    if dims == "[substance] / [length] ** 3":
        return "equivalent" if EQUIVALENT in str(quantity.units) else "substance"
    return None


def _in_base(quantity: Any, kind: str) -> float:
    base = registry().from_ucum(BASE[kind])
    # Equivalents are moles to pint; read them as moles of charge so the valence can be applied explicitly.
    return float(quantity.to(base.units).magnitude)


def _between_kinds(value: float, source: str, target: str, molar_mass: float | None, valence: int | None) -> float:
    """A base amount (g/L, mol/L or eq/L) of one kind expressed in another kind."""
    if source == target:
        return value
    moles = value
    if source == "mass":
        if molar_mass is None:
            raise UnitError("molar mass needed")
        moles = value / molar_mass
    elif source == "equivalent":
        if valence is None:
            raise UnitError("valence needed")
        moles = value / valence
    if target == "mass":
        if molar_mass is None:
            raise UnitError("molar mass needed")
        return moles * molar_mass
    if target == "equivalent":
        if valence is None:
            raise UnitError("valence needed")
        return moles * valence
    return moles


@functools.lru_cache(maxsize=4096)
def _factor(unit: str, target: str, molar_mass: float | None, valence: int | None) -> float | None:
    try:
        source_q, target_q = _quantity(unit), _quantity(target)
        source_kind, target_kind = _kind(source_q), _kind(target_q)
        if source_kind is None or target_kind is None:
            if source_kind != target_kind:
                return None
            return float(source_q.to(target_q.units).magnitude)
        amount = _between_kinds(_in_base(source_q, source_kind), source_kind, target_kind, molar_mass, valence)
        return amount / _in_base(target_q, target_kind)
    except (UnitError, PintError):
        return None


def factor_between(from_unit: str | None, to_unit: str, analyte: Analyte, aliases: Mapping[str, str]) -> float | None:
    """The factor taking ``from_unit`` to ``to_unit`` for this analyte, or None when not convertible."""
    unit, target = resolve(from_unit, aliases), resolve(to_unit, aliases)
    if unit is None or target is None:
        return None
    own = analyte.unit_aliases  # analyte-specific readings, e.g. TSH "mU/L" means milli-international units
    return _factor(own.get(unit, unit), own.get(target, target), analyte.molar_mass, analyte.valence)


def factor_to_canonical(unit: str | None, analyte: Analyte, aliases: Mapping[str, str]) -> float | None:
    """The factor taking ``unit`` to the analyte's canonical unit, or None when the unit is not convertible."""
    return factor_between(unit, analyte.canonical_unit, analyte, aliases)


def to_canonical(value: float, unit: str | None, analyte: Analyte, aliases: Mapping[str, str]) -> float | None:
    """``value`` in the analyte's canonical unit, or None when the unit is not understood."""
    factor = factor_to_canonical(unit, analyte, aliases)
    return None if factor is None else value * factor


def convert(value: float, from_unit: str, to_unit: str, analyte: Analyte, aliases: Mapping[str, str]) -> float | None:
    """``value`` from one unit to another, or None when either is not understood for this analyte."""
    factor = factor_between(from_unit, to_unit, analyte, aliases)
    return None if factor is None else value * factor


def ucum_code(code: str | None, unit: str | None, aliases: Mapping[str, str]) -> str | None:
    """The UCUM code of a Quantity: its ``code`` when it parses, else its display ``unit``, through the aliases."""
    candidates = [resolved for item in (code, unit) if (resolved := resolve(item, aliases)) is not None]
    return next((item for item in candidates if is_ucum(item)), candidates[0] if candidates else None)
