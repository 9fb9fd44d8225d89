"""Every result of each analyte over a window, judged and normalised exactly as the rules judge the latest one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from service.facts.code_index import as_list, fact_index
from service.facts.labs import (  # the facts edge's own parser: one unit normalisation
    LOINC_SYSTEM,
    USABLE_OBSERVATION_STATUS,
    LabResult,
    lab_result,
    observation_effective,
)
from service.facts.records import Resource
from service.facts.units import convert
from service.knowledge import Analyte, Knowledge, ValueRange
from service.rules import text
from service.rules.judge import classify, critical_direction
from service.rules.labs import corrected_calcium

PRELIMINARY_STATUS = frozenset({"preliminary"})


class Judgement(StrEnum):
    """How one result reads, in chart colour order."""

    NORMAL = "normal"
    LOW = "low"
    HIGH = "high"
    CRITICAL = "critical"
    PRELIMINARY = "preliminary"
    UNJUDGED = "not judged"


@dataclass(frozen=True)
class LabPoint:
    """One result: when, value in the canonical unit, as reported, and how the rules read it."""

    effective: dt.datetime
    canonical: float | None
    reported: str
    judgement: Judgement
    preliminary: bool
    canonical_text: str | None = None  # the canonical value as displayed (service.facts.numbers)


@dataclass(frozen=True)
class LabSeries:
    """One analyte's results in the window, its reference band and knowledge thresholds (canonical unit)."""

    analyte: Analyte
    points: tuple[LabPoint, ...]
    band: ValueRange
    band_source: str  # "lab" | "knowledge"
    corrected: tuple[LabPoint, ...] = ()


def _judge(result: LabResult, analyte: Analyte, aliases: Mapping[str, str], preliminary: bool) -> Judgement:
    if preliminary:
        return Judgement.PRELIMINARY
    if result.canonical is None:
        return Judgement.UNJUDGED
    if critical_direction(result, analyte) is not None:
        return Judgement.CRITICAL
    direction = classify(result, analyte, aliases)
    return Judgement.NORMAL if direction is None else Judgement(direction.value)


def _reported(result: LabResult) -> str:
    return text.quantity(result.value_text, result.unit, markdown=False)


def _loinc_of(raw: Resource, loinc_index: Mapping[str, str]) -> tuple[str, str] | None:
    code = raw.get("code")
    for coding in as_list(code.get("coding")) if isinstance(code, dict) else ():
        if isinstance(coding, dict) and coding.get("system") == LOINC_SYSTEM:
            analyte = loinc_index.get(str(coding.get("code")))
            if analyte:
                return analyte, str(coding["code"])
    return None


def parsed_results(
    observations: Iterable[Resource], knowledge: Knowledge, since: dt.datetime
) -> dict[str, list[tuple[LabResult, bool]]]:
    """Usable and preliminary results per analyte since ``since``, oldest first (malformed ones skipped)."""
    index = fact_index(knowledge).loinc
    found: dict[str, list[tuple[LabResult, bool]]] = {}
    for raw in observations:
        status = raw.get("status")
        if not isinstance(status, str) or status not in USABLE_OBSERVATION_STATUS | PRELIMINARY_STATUS:
            continue
        match = _loinc_of(raw, index)
        effective = observation_effective(raw) if match else None
        if match is None or effective is None or effective < since:
            continue
        result = lab_result(match[0], match[1], effective, raw, knowledge)  # the gate skips what cannot be read
        if result is not None:
            found.setdefault(match[0], []).append((result, status in PRELIMINARY_STATUS))
    for results in found.values():
        results.sort(key=lambda item: item[0].effective)
    return found


def _band(latest: LabResult | None, analyte: Analyte, aliases: Mapping[str, str]) -> tuple[ValueRange, str]:
    """The latest result's own reference range in the canonical unit, else the knowledge fall-back range."""
    if latest is not None and (latest.reference.low is not None or latest.reference.high is not None):
        unit = latest.reference_unit or latest.unit
        if unit is not None:
            low, high = (
                convert(bound, unit, analyte.canonical_unit, analyte, aliases) if bound is not None else None
                for bound in (latest.reference.low, latest.reference.high)
            )
            if low is not None or high is not None:
                return ValueRange(low=low, high=high), "lab"
    return analyte.fallback_range, "knowledge"


def _point(result: LabResult, analyte: Analyte, aliases: Mapping[str, str], preliminary: bool) -> LabPoint:
    judgement = _judge(result, analyte, aliases, preliminary)
    shown = result.canonical_text
    return LabPoint(result.effective, result.canonical, _reported(result), judgement, preliminary, shown)


def _corrected(
    totals: list[tuple[LabResult, bool]], albumins: list[tuple[LabResult, bool]], knowledge: Knowledge
) -> tuple[LabPoint, ...]:
    """Albumin-corrected calcium for every final total calcium with an albumin close enough (the rule's formula)."""
    analyte, points = knowledge.analyte("calcium_total"), []
    final_albumins = [albumin for albumin, preliminary in albumins if not preliminary]
    for total, preliminary in totals:
        if preliminary or not final_albumins:
            continue
        nearest = min(final_albumins, key=lambda albumin: abs(albumin.effective - total.effective))
        corrected = corrected_calcium(total, nearest, knowledge)
        if corrected is not None:
            points.append(_point(corrected, analyte, knowledge.unit_aliases, False))
    return tuple(points)


def lab_series(observations: Iterable[Resource], knowledge: Knowledge, since: dt.datetime) -> list[LabSeries]:
    """One series per analyte with results in the window, in knowledge order."""
    found = parsed_results(observations, knowledge, since)
    aliases, series = knowledge.unit_aliases, []
    for analyte_id in (a for a in knowledge.analytes if a in found):
        analyte, results = knowledge.analyte(analyte_id), found[analyte_id]
        finals = [result for result, preliminary in results if not preliminary]
        band, source = _band(finals[-1] if finals else None, analyte, aliases)
        points = tuple(_point(result, analyte, aliases, preliminary) for result, preliminary in results)
        corrected = _corrected(results, found.get("albumin", []), knowledge) if analyte_id == "calcium_total" else ()
        series.append(LabSeries(analyte, points, band, source, corrected))
    return series
