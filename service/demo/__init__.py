"""Demo patients for FHIR sandboxes: named, distinct transaction Bundles, and ``demo load`` to upload them.

The bundles (``bundles/<id>.json``, made by ``fixtures/build_demo.py`` from fixture scenarios and ``patients.yaml``)
store every resource under a fixed id (``PUT Type/id``), so loading twice updates rather than duplicates. Their
dates are written for ``WRITTEN_FOR``; ``prepared()`` moves every date and instant by the time since then (birth
dates stay), so that "4 days ago" in the scenario is 4 days before the load, whatever the day.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field

WRITTEN_FOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # the fixtures' NOW (fixtures/README.md)
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
KEPT_DATES = frozenset({"birthDate"})


class DemoPatient(BaseModel):
    """One demo patient as ``patients.yaml`` declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^fcds-demo-[a-z0-9-]{1,50}$")
    source: str = Field(pattern=r"^[a-z0-9_]+$")
    given: str = Field(min_length=1)
    family: str = Field(min_length=1)
    gender: str = Field(pattern=r"^(female|male|other|unknown)$")
    birth_date: date
    scenario: str = Field(min_length=1)
    expect: tuple[str, ...]

    @property
    def display(self) -> str:
        """Name as a patient picker shows it."""
        return f"{self.given} {self.family}"


class DemoCatalogue(BaseModel):
    """The whole ``patients.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patients: tuple[DemoPatient, ...]


@cache
def demo_patients() -> tuple[DemoPatient, ...]:
    """Every demo patient, validated (ids, names and birth dates distinct)."""
    text = (resources.files(__package__) / "patients.yaml").read_text(encoding="utf-8")
    patients = DemoCatalogue.model_validate(yaml.safe_load(text)).patients
    for attribute in ("id", "display", "birth_date"):
        values = [getattr(patient, attribute) for patient in patients]
        if len(set(values)) != len(values):
            raise ValueError(f"patients.yaml: demo patients share a {attribute}")
    return patients


def stored_bundle(patient: DemoPatient) -> dict[str, Any]:
    """The transaction Bundle as committed (dates as written)."""
    raw = (resources.files(__package__) / "bundles" / f"{patient.id}.json").read_bytes()
    bundle: dict[str, Any] = orjson.loads(raw)
    return bundle


def _shift_text(text: str, delta: timedelta) -> str:
    if _INSTANT.fullmatch(text):
        return (datetime.fromisoformat(text.replace("Z", "+00:00")) + delta).isoformat().replace("+00:00", "Z")
    if _DAY.fullmatch(text):
        return (date.fromisoformat(text) + timedelta(days=round(delta / timedelta(days=1)))).isoformat()
    return text


def shifted(value: Any, delta: timedelta, key: str = "") -> Any:
    """``value`` with every FHIR date and instant moved by ``delta`` (``birthDate`` kept)."""
    if isinstance(value, dict):
        return {name: shifted(item, delta, name) for name, item in value.items()}
    if isinstance(value, list):
        return [shifted(item, delta, key) for item in value]
    if isinstance(value, str) and key not in KEPT_DATES and delta:
        return _shift_text(value, delta)
    return value


def prepared(as_of: datetime) -> Iterator[tuple[DemoPatient, dict[str, Any]]]:
    """Each demo patient with its bundle, dated so that the scenario's "now" is ``as_of``."""
    delta = as_of - WRITTEN_FOR
    for patient in demo_patients():
        yield patient, shifted(stored_bundle(patient), delta)
