"""When the FHIR fall-back may stop paging the labs search: later pages can no longer change any lab the rules read.

The screen reads one lab result per analyte: the newest usable one, however old (``latest_labs``). The ``labs``
template asks for ``_sort=-date``, so once every analyte has its newest usable result among the entries read so far,
and the oldest entry read is strictly older than each of them, every later page holds only older results: none of
them can be chosen. Anything that breaks the argument keeps paging (the safe side): an analyte with no usable
result yet, an entry whose date is not a full-precision effectiveDateTime/effectiveInstant (a period, a partial
date, only ``issued``: the server's ``date`` order is then not the screen's order), entries that are not in
newest-first order (a server that ignored ``_sort``), or entries of more than one subject (a server that ignored
``patient=``: the other patients' results, left out later by ``service.facts.ownership``, must not end the paging
before this patient's own results are read).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from service.facts.code_index import fact_index
from service.facts.labs import latest_labs
from service.knowledge import Knowledge

MIN_FULL_DATETIME = len("2020-01-01T00:00:00")
LOINC_SYSTEM = "http://loinc.org"


def _full_datetime(resource: dict[str, Any]) -> dt.datetime | None:
    """The effectiveDateTime/effectiveInstant as a zoned datetime, or None unless it is one to the second."""
    value = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
    if not isinstance(value, str) or len(value) < MIN_FULL_DATETIME or "effectivePeriod" in resource:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _subject(resource: dict[str, Any]) -> str | None:
    """The subject reference of an entry, as sent (only compared with the other entries' ones)."""
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else subject
    return reference if isinstance(reference, str) else None


def _oldest_if_newest_first(resources: Sequence[dict[str, Any]]) -> dt.datetime | None:
    """The last (oldest) date when every Observation is dated to the second and they run newest first, else None."""
    previous: dt.datetime | None = None
    for resource in resources:
        if resource.get("resourceType") != "Observation":
            continue
        moment = _full_datetime(resource)
        if moment is None or (previous is not None and moment > previous):
            return None
        previous = moment
    return previous


def _analytes_coded(resources: Sequence[dict[str, Any]], analyte_of_loinc: Mapping[str, str]) -> set[str]:
    """The analytes some resource is coded as (a cheap pre-check: no resource is parsed)."""
    found = set()
    for resource in resources:
        code = resource.get("code")
        for coding in code.get("coding") or () if isinstance(code, dict) else ():
            if isinstance(coding, dict) and coding.get("system") == LOINC_SYSTEM:
                analyte = analyte_of_loinc.get(str(coding.get("code")))
                if analyte is not None:
                    found.add(analyte)
    return found


def labs_pages_enough(knowledge: Knowledge) -> Callable[[Sequence[dict[str, Any]]], bool]:
    """The ``labs`` key's paging test for the FHIR fall-back (see the module docstring)."""
    analytes = frozenset(knowledge.analytes)
    analyte_of_loinc = fact_index(knowledge).loinc

    def enough(entries: Sequence[dict[str, Any]]) -> bool:
        resources = [e["resource"] for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
        if len({_subject(resource) for resource in resources}) > 1:
            return False  # a server that ignored patient=: read on, the edge keeps only this patient's results
        if _analytes_coded(resources, analyte_of_loinc) != analytes:
            return False  # some analyte has no result at all yet: later pages may hold its newest one
        oldest = _oldest_if_newest_first(resources)
        if oldest is None:
            return False
        latest = latest_labs(resources, knowledge)
        if set(latest) != analytes:
            return False
        return all(oldest < result.effective for result in latest.values())

    return enough
