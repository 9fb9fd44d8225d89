"""The page's patient banner: name, age and sex from the Patient resource, for the right-patient check."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

NO_NAME = "Name not recorded"
# HumanName.use order of preference (FHIR R4 name-use): an "old" or "anonymous" name is shown only when nothing else is.
NAME_USE_ORDER = ("official", "usual", None, "temp", "nickname", "maiden", "anonymous", "old")
_BIRTH_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True)
class Banner:
    """Who the page is about, as the Patient resource says."""

    name: str
    age: str  # "" when the birth date is not recorded
    sex: str  # administrative gender as recorded; "" when not recorded
    birth_date: str

    @property
    def label(self) -> str:
        """One line: name, age, sex and birth date (the page title and the right-patient check)."""
        extras = [self.age, self.sex, f"born {self.birth_date}" if self.birth_date else ""]
        return ", ".join(part for part in [self.name, *extras] if part)


def _name_text(name: dict[str, Any]) -> str:
    if isinstance(name.get("text"), str) and name["text"].strip():
        return str(name["text"]).strip()
    parts = [p for p in name.get("prefix") or [] if isinstance(p, str)]
    parts += [g for g in name.get("given") or [] if isinstance(g, str)]
    parts += [name["family"]] if isinstance(name.get("family"), str) else []
    return " ".join(part.strip() for part in parts if part.strip())


def patient_name(patient: dict[str, Any]) -> str:
    """The preferred recorded name (official, then usual, ...), or "Name not recorded" when there is none."""
    recorded = patient.get("name") if isinstance(patient.get("name"), list) else []
    names = [name for name in recorded or [] if isinstance(name, dict)]
    ranked = sorted(names, key=lambda n: NAME_USE_ORDER.index(n.get("use")) if n.get("use") in NAME_USE_ORDER else 2)
    return next((text for name in ranked if (text := _name_text(name))), NO_NAME)


def patient_age(birth_date: str, today: dt.date) -> str:
    """Age in whole years on ``today`` (months under two); a year-only birth date gives a two-year span."""
    match = _BIRTH_DATE.match(birth_date)
    if match is None:
        return ""
    year, month, day = int(match[1]), int(match[2] or 0), int(match[3] or 0)
    if not month:
        return f"{today.year - year - 1}–{today.year - year} years" if today.year > year else ""
    born = (month, day or 1)
    years = today.year - year - ((today.month, today.day) < born)
    if years < 0:
        return ""
    if years < 2:
        months = (today.year - year) * 12 + today.month - month - (bool(day) and today.day < day)
        return f"{months} months"
    return f"{years} years"


def banner(patient: dict[str, Any] | None, now: dt.datetime) -> Banner:
    """The banner of a Patient resource (every field checked: a malformed one is left out, never guessed)."""
    patient = patient or {}
    birth = patient.get("birthDate") if isinstance(patient.get("birthDate"), str) else ""
    sex = patient.get("gender") if isinstance(patient.get("gender"), str) else ""
    return Banner(patient_name(patient), patient_age(str(birth), now.date()), str(sex), str(birth))
