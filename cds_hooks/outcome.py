"""Error bodies as FHIR OperationOutcome, for clients that ask for ``application/fhir+json`` (CDS Hooks 3.0).

CDS Hooks 2.0 defines no error body; ours is ``{"error", "message", <detail>}`` and stays the default. The 3.0
ballot (STU, §Returning OperationOutcome) says a service SHOULD include an OperationOutcome in a non-2xx answer,
so a client whose ``Accept`` prefers ``application/fhir+json`` gets the same facts in that shape: one issue per
offending field of a 400, the unobtainable prefetch keys of a 412, a bare ``login`` issue for a 401.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FHIR_JSON = "application/fhir+json"
# HTTP status -> FHIR issue-type code (http://hl7.org/fhir/issue-type); 412 is the spec example's "processing".
ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    412: "processing",
    413: "too-long",
    414: "too-long",
    415: "not-supported",
    429: "throttled",
    431: "too-long",
    500: "exception",
    503: "transient",
    504: "timeout",
}


def _issue(
    code: str, text: str | None, diagnostics: str | None = None, expression: str | None = None
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code}
    if text:
        issue["details"] = {"text": text}
    if diagnostics:
        issue["diagnostics"] = diagnostics
    if expression:
        issue["expression"] = [expression]
    return issue


def operation_outcome(body: Mapping[str, Any], status: int) -> dict[str, Any]:
    """Our JSON error ``body`` (answered with ``status``) as an R4 OperationOutcome with the same content."""
    code = ISSUE_TYPES.get(status, "exception" if status >= 500 else "processing")
    message = body.get("message")
    issues: list[dict[str, Any]] = []
    fields = body.get("fields")
    if isinstance(fields, Mapping):
        for name, problems in fields.items():
            issues.append(_issue(code, message, "; ".join(map(str, problems)), str(name)))
    keys = body.get("prefetch")
    if isinstance(keys, list) and keys:
        issues.append(_issue(code, message, "prefetch keys not obtainable: " + ", ".join(map(str, keys))))
    return {"resourceType": "OperationOutcome", "issue": issues or [_issue(code, message)]}
