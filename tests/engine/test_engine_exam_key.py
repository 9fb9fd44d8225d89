"""The examObservations prefetch key against the real engine: discovery announces it, the engine answers
it with exactly the exam-category Observations, and a hook call that must fetch it gives the exam-finding cards."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from service.hooks import patient_prefetch
from service.knowledge import load_knowledge
from tests.engine.conftest import ENGINE_TOKEN
from tests.engine.fhir_engine_harness import FhirEngine, load_keeping_ids
from tests.engine.hook_calls import call, client_prefetch, engine_app, hook_body, new_hook_instance, templates

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "patients"
FIXTURES_NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
SCENARIOS = ("exam_fasciculation_low_magnesium", "exam_fasciculation_absent", "pregnancy_low_tsh")


@pytest.fixture(scope="module")
def stored(engine: FhirEngine) -> dict[str, str]:
    """The exam and pregnancy scenarios stored under their own ids; scenario -> Patient id."""
    patients = {}
    for name in SCENARIOS:
        bundle = json.loads((FIXTURES / f"{name}.json").read_bytes())
        load_keeping_ids(engine, bundle)
        patients[name] = next(
            e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
        )
    return patients


@pytest.fixture(scope="module")
def app(engine: FhirEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with engine_app(tmp_path_factory.mktemp("exam-db"), engine.base_url, clock=lambda: FIXTURES_NOW) as flask_app:
        yield flask_app


def test_discovery_announces_the_exam_key(app: Flask) -> None:
    prefetch = templates(app)
    assert prefetch["examObservations"] == patient_prefetch(load_knowledge())["examObservations"]
    assert "category=exam" in prefetch["examObservations"] and "82810-3" in prefetch["labs"]


def test_the_engine_answers_the_exam_key_with_exam_observations_only(
    app: Flask, engine: FhirEngine, stored: dict[str, str]
) -> None:
    sent = client_prefetch(engine, templates(app), stored["exam_fasciculation_absent"], ["examObservations", "labs"])
    exam = [e["resource"] for e in sent["examObservations"]["entry"]]
    assert len(exam) == 4 and all(r["category"][0]["coding"][0]["code"] == "exam" for r in exam)
    dates = [r["effectiveDateTime"] for r in exam]
    assert dates == sorted(dates, reverse=True)  # _sort=-date
    labs = [e["resource"] for e in sent["labs"]["entry"]]
    assert labs and not {r["id"] for r in labs} & {r["id"] for r in exam}
    pregnancy = client_prefetch(engine, templates(app), stored["pregnancy_low_tsh"], ["labs", "examObservations"])
    codes = {e["resource"]["code"]["coding"][0]["code"] for e in pregnancy["labs"]["entry"]}
    assert "82810-3" in codes and pregnancy["examObservations"]["total"] == 0  # social-history rides with the labs


@pytest.mark.parametrize(
    ("name", "rules"), [("exam_fasciculation_low_magnesium", ["lab.magnesium.low"]), ("exam_fasciculation_absent", [])]
)
def test_hook_fetching_the_exam_key_gives_the_cards(
    app: Flask, engine: FhirEngine, stored: dict[str, str], name: str, rules: list[str]
) -> None:
    """Every key but examObservations is prefetched; the service fetches it from the engine itself."""
    keys = [key for key in templates(app) if key != "examObservations"]
    prefetch = client_prefetch(engine, templates(app), stored[name], keys)
    body = hook_body(engine.base_url, stored[name], prefetch, token=ENGINE_TOKEN, hook_instance=new_hook_instance())
    status, answer = call(app, body)
    assert status == 200, answer
    assert [c["extension"]["org.fasciculation-cds.card"]["ruleId"] for c in answer["cards"]] == rules
    without = call(
        app,
        {
            **body,
            "hookInstance": new_hook_instance(),
            "prefetch": {
                **prefetch,
                "examObservations": {"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []},
            },
        },
    )
    assert without[1]["cards"] == []  # the exam finding is the only record of the twitching
