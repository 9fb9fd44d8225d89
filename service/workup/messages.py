"""The clear pages a launch can end on: one closed set of reasons, each with its HTTP status and wording."""

from __future__ import annotations

from dataclasses import dataclass

RELAUNCH = "Please open the work-up view again from the patient's chart in the EHR."


@dataclass(frozen=True)
class Message:
    """What a reader sees when the app cannot go on."""

    status: int
    title: str
    text: str
    action: str | None = RELAUNCH


MESSAGES = {
    "missing-iss": Message(400, "Launch incomplete", "The launch did not name the FHIR server to read from (iss)."),
    "iss-not-allowed": Message(
        403,
        "FHIR server not allowed",
        "This service is not configured to read from the FHIR server named in the launch, so nothing was sent to it.",
        "Ask the administrator to add that server to CDS_FHIR_SERVER_ALLOWLIST if it should be trusted.",
    ),
    "discovery": Message(
        502,
        "Sign-in service not found",
        "The FHIR server did not publish a usable SMART configuration (.well-known/smart-configuration).",
    ),
    "state": Message(
        400,
        "Launch could not be verified",
        "The answer from the sign-in service does not belong to this browser's launch (the state check failed), "
        "so it was not used.",
    ),
    "denied": Message(403, "Access was not granted", "The sign-in service did not authorise access to the record."),
    "token": Message(502, "Sign-in could not be completed", "The sign-in service did not issue an access token."),
    "sign-in-slow": Message(
        504,
        "Sign-in service too slow",
        "The FHIR server's sign-in service (its SMART configuration or token endpoint) did not answer in time.",
    ),
    "no-patient": Message(400, "No patient selected", "The launch did not say which patient to show."),
    "no-session": Message(401, "Not launched", "This page needs a launch from the EHR (a card link or app menu)."),
    "expired": Message(401, "Session expired", "Access to the patient's record has expired."),
    "not-allowed": Message(403, "FHIR server not allowed", "The FHIR server is not on the allow-list."),
    "timeout": Message(503, "FHIR server too slow", "The FHIR server did not answer within the time allowed.", None),
    "wrong-patient": Message(
        412,
        "Record of another patient",
        "The FHIR server answered with a different patient than the one launched, so nothing was shown.",
    ),
    "unavailable": Message(503, "FHIR server unavailable", "The patient's record could not be read just now.", None),
    "sessions-unavailable": Message(
        503,
        "Service database unavailable",
        "The work-up view cannot keep its sign-in just now; try again shortly.",
        None,
    ),
}


class WorkupStop(Exception):
    """The launch or the page cannot go on; ``reason`` names the clear page to end on (a key of ``MESSAGES``)."""

    def __init__(self, reason: str) -> None:
        if reason not in MESSAGES:
            raise ValueError(f"no page for reason {reason!r}")
        super().__init__(reason)
        self.reason = reason
