"""CDS Hooks 3.0 readiness, 2.0 kept: discovery `version`, OperationOutcome errors on request, SMART v2 scopes."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from flask.testing import FlaskClient

from cds_hooks.definitions import CDS_HOOKS_VERSION
from cds_hooks.outcome import operation_outcome
from cds_hooks.response import ResponseInvalid, check_discovery
from cds_hooks.scopes import Interaction, parse_scopes, scope_refusal
from tests.loopback import Answer, Loopback
from tests.toolkit.conftest import hook_body
from tests.toolkit.test_prefetch_fallback import LABS_QUERY, authorization, page

FHIR_JSON = "application/fhir+json"


def test_discovery_advertises_the_cds_hooks_version(client: FlaskClient) -> None:
    services = client.get("/cds-services").get_json()["services"]
    assert CDS_HOOKS_VERSION == "2.0.0" and {service["version"] for service in services} == {"2.0.0"}


def test_a_version_that_is_not_semver_is_refused() -> None:
    entry = {"hook": "patient-view", "description": "d", "id": "x", "version": "2.0"}
    with pytest.raises(ResponseInvalid):
        check_discovery({"services": [entry]})


def _outcome(answer: Any) -> OperationOutcome:
    assert answer.mimetype == FHIR_JSON
    return OperationOutcome.model_validate(answer.get_json())


def test_errors_are_operation_outcomes_when_asked(client: FlaskClient) -> None:
    asked = {"Accept": FHIR_JSON}
    bad = client.post("/cds-services/echo", json={"hook": "patient-view"}, headers=asked)
    outcome = _outcome(bad)
    assert bad.status_code == 400 and {i.code for i in outcome.issue} == {"invalid"}
    assert {i.expression[0] for i in outcome.issue if i.expression} >= {"hookInstance", "context"}
    missing = client.post("/cds-services/nope", json=hook_body(), headers=asked)
    assert missing.status_code == 404 and _outcome(missing).issue[0].code == "not-found"
    wrong_verb = client.get("/cds-services/echo", headers=asked)
    assert wrong_verb.status_code == 405 and _outcome(wrong_verb).issue[0].code == "not-supported"


def test_a_412_names_the_prefetch_keys_in_the_outcome(client: FlaskClient) -> None:
    answer = client.post("/cds-services/echo", json=hook_body(), headers={"Accept": f"{FHIR_JSON}, */*;q=0.1"})
    (issue,) = _outcome(answer).issue
    assert answer.status_code == 412 and issue.code == "processing" and "patient" in (issue.diagnostics or "")


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", f"application/json, {FHIR_JSON};q=0.5"])
def test_json_errors_stay_the_default(client: FlaskClient, accept: str | None) -> None:
    answer = client.post("/cds-services/echo", json={"hook": "patient-view"}, headers={"Accept": accept or ""})
    assert answer.mimetype == "application/json" and answer.get_json()["error"] == "bad_request"


def test_a_401_outcome_says_no_more_than_the_json_body() -> None:
    outcome = operation_outcome({"error": "unauthorized"}, 401)
    assert outcome == {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login"}]}
    OperationOutcome.model_validate(outcome)


@pytest.mark.parametrize(
    ("scope", "url", "allowed"),
    [
        ("patient/*.read", "Observation?patient=p1", True),
        ("patient/Observation.read", "Patient/p1", False),
        ("user/*.*", "Patient/p1", True),
        ("patient/Observation.write", "Observation?patient=p1", False),
        ("patient/Observation.rs", "Observation?patient=p1", True),
        ("patient/Observation.r", "Observation?patient=p1", False),  # a read is not a search
        ("patient/Patient.r patient/Observation.s", "Patient/p1", True),
        ("patient/*.cruds", "MedicationRequest?patient=p1", True),
        ("patient/Observation.rs?category=laboratory", "Observation?patient=p1&code=x", True),
        ("system/Condition.rs", "Observation?patient=p1", False),
        ("launch openid fhirUser", "Observation?patient=p1", True),  # no resource scope: the server judges
        ("patient/Observation.sr", "Observation?patient=p1", True),  # out of order: not a scope, nothing to judge
    ],
)
def test_scopes_in_smart_v1_and_v2(scope: str, url: str, allowed: bool) -> None:
    assert (scope_refusal(scope, url) is None) is allowed


def test_v2_permissions_are_read_letter_by_letter() -> None:
    (rs,) = parse_scopes("patient/Observation.rs?category=laboratory")
    assert rs.narrowed and rs.allows("Observation", Interaction.SEARCH) and rs.allows("Observation", Interaction.READ)
    (cu,) = parse_scopes("patient/Observation.cu")
    assert not cu.allows("Observation", Interaction.SEARCH) and not cu.allows("Observation", Interaction.READ)


def test_a_query_the_scope_leaves_out_is_412_and_the_server_is_not_asked(client: FlaskClient, fhir: Loopback) -> None:
    fhir.route("Patient/p1", Answer({"resourceType": "Patient", "id": "p1"}))
    fhir.route(LABS_QUERY, Answer(page(fhir, [], None)))
    body = hook_body(**authorization(fhir.base_url))
    body["fhirAuthorization"]["scope"] = "launch patient/Patient.rs"  # SMART v2: Patient only
    answer = client.post("/cds-services/echo", json=body)
    assert answer.status_code == 412 and answer.get_json()["prefetch"] == ["labs"]
    assert "scope grants no search of Observation" in answer.get_json()["message"]
    assert all("Observation" not in request.path for request in fhir.requests)
    body["fhirAuthorization"]["scope"] = "launch patient/Patient.rs patient/Observation.rs"
    assert client.post("/cds-services/echo", json=body).status_code == 200
