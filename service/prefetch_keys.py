"""The prefetch keys whose absence the screen must know about, and the record built from a call's prefetched data."""

from __future__ import annotations

from typing import Any

from cds_hooks import Prefetched
from service.facts.records import PatientRecord, build_record

EXAM_KEY = "examObservations"
# Exam-finding Observations came after clients were configured (issue 15): when a client does not send the key and
# it cannot be fetched, the patient is still screened (signs from Conditions only) rather than refused with 412,
# and every card says the examination was not read.
OPTIONAL_PREFETCH = frozenset({EXAM_KEY})


def prefetched_record(prefetched: Prefetched, draft_orders: Any = None) -> PatientRecord:
    """The patient record from the resolved prefetch (``None``: "no data"); a left-out exam key is remembered."""
    values = (value for value in prefetched.values() if value is not None)
    return build_record(values, draft_orders, exam_findings_read=EXAM_KEY in prefetched)
