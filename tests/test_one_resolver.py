"""One prefetch resolver per service definition (issue 22): the hook, ``evaluate`` and the work-up view read alike.

Each way in gets its resolver from ``PrefetchResolver.for_service``, so each stops paging the labs search where the
hook does, and an exam search the FHIR server fails is "examination findings were not read", not a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from requests.utils import requote_uri

from cds_hooks import FhirClientSettings, ServerAllowList, client_factory, render_template
from service.cli import main
from service.hooks import SERVICE_IDS, patient_prefetch
from service.knowledge import load_knowledge
from service.prefetch_keys import EXAM_KEY
from service.workup.fetch import Grant, read_record
from service.workup.page import build_page, render_page
from tests.conftest import NOW, REQUESTS, AppFactory
from tests.loopback import Answer, Loopback, loopback_fhir, serve_app

KNOWLEDGE = load_knowledge()
EXAM_NOTE = KNOWLEDGE.cards.phrases["exam_unread_note"]
PATIENT = "magnesium-first"
PAGE_TWO = "Observation?page=2"
BODY: dict[str, Any] = json.loads((REQUESTS / "patient-view" / "magnesium_first.json").read_text(encoding="utf-8"))
Way = Callable[[str], str]  # the FHIR base -> the text a clinician reads (cards as JSON, or the page)


def paged_labs(base_url: str) -> dict[str, Any]:
    """A newest-first labs page holding every analyte, then an older one, with a ``next`` link nobody needs."""
    entries = []
    for index, (days, analytes) in enumerate([(2, list(KNOWLEDGE.analytes.values())), (40, [])]):
        for minute, analyte in enumerate(analytes or list(KNOWLEDGE.analytes.values())[:1]):
            low = analyte.fallback_range.low or 1.0
            entries.append(
                {
                    "resource": {
                        "resourceType": "Observation",
                        "id": f"lab-{index}-{minute}",
                        "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": analyte.loinc[0]}]},
                        "subject": {"reference": f"Patient/{PATIENT}"},
                        "effectiveDateTime": (NOW - timedelta(days=days, minutes=minute)).isoformat(),
                        "valueQuantity": {
                            "value": low,
                            "system": "http://unitsofmeasure.org",
                            "code": analyte.canonical_unit,
                        },  # fmt: skip
                    }
                }
            )
    link = [{"relation": "next", "url": f"{base_url}/{PAGE_TWO}"}]
    return {"resourceType": "Bundle", "type": "searchset", "link": link, "entry": entries}


def serve(fhir: Loopback, *, exam: bool, paged: bool) -> None:
    """Answer the patient's prefetch queries from the committed request; the exam search fails unless ``exam``."""
    empty = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    for key, template in patient_prefetch(KNOWLEDGE).items():
        if key == EXAM_KEY and not exam:
            continue  # 404 OperationOutcome: the server cannot answer it
        value = paged_labs(fhir.base_url) if key == "labs" and paged else BODY["prefetch"][key]
        fhir.route(requote_uri(render_template(template, BODY["context"])), Answer(value))
    fhir.route(PAGE_TWO, Answer(empty))


@pytest.fixture
def hook_base(app_factory: AppFactory) -> Iterator[str]:
    with serve_app(app_factory()) as url:
        yield url


def by_hook(hook_base: str) -> Way:
    def read(fhir_base: str) -> str:
        body = {**BODY, "fhirServer": fhir_base, "prefetch": {}}
        response = requests.post(f"{hook_base}/cds-services/{SERVICE_IDS['patient-view']}", json=body, timeout=30)
        assert response.status_code == 200, response.text
        return json.dumps(response.json())

    return read


def by_cli(capsys: pytest.CaptureFixture[str]) -> Way:
    def read(fhir_base: str) -> str:
        assert main(["evaluate", "--fhir-server", fhir_base, "--patient", PATIENT, "--now", NOW.isoformat()]) == 0
        return capsys.readouterr().out

    return read


def by_workup(fhir_base: str) -> str:
    factory = client_factory(ServerAllowList(None), FhirClientSettings())
    record = read_record(Grant(fhir_base, "token", "patient/*.read", PATIENT), KNOWLEDGE, factory)
    return render_page(build_page(record, now=NOW, knowledge=KNOWLEDGE, window_days=365))


@pytest.fixture(params=["hook", "cli", "workup"])
def way(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> Way:
    if request.param == "hook":
        return by_hook(request.getfixturevalue("hook_base"))
    return by_cli(capsys) if request.param == "cli" else by_workup


def test_a_failed_exam_search_is_said_not_fatal(way: Way) -> None:
    with loopback_fhir() as fhir:
        serve(fhir, exam=False, paged=False)
        text = way(fhir.base_url)
    assert "Examination findings were not read" in EXAM_NOTE
    assert EXAM_NOTE.split(":")[0] in text


def test_no_way_in_pages_the_labs_further_than_the_hook(way: Way) -> None:
    with loopback_fhir() as fhir:
        serve(fhir, exam=True, paged=True)
        way(fhir.base_url)
        assert fhir.hits[f"/fhir/{PAGE_TWO}"] == 0
        assert sum(fhir.hits.values()) == len(patient_prefetch(KNOWLEDGE))
