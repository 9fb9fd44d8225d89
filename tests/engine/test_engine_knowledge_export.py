"""Every exported knowledge resource passes the test FHIR engine's $validate (Medplum's validator against the R4
StructureDefinitions): a second, independent check beside fhir.resources R4B."""

from __future__ import annotations

import json
from typing import Any

import requests

from service.knowledge import load_knowledge
from service.knowledge.export.web import service_package
from tests.engine.conftest import EngineFactory


def _validate(session: requests.Session, base: str, resource: dict[str, Any]) -> requests.Response:
    return session.post(f"{base}/{resource['resourceType']}/$validate", data=json.dumps(resource), timeout=30)


def test_every_exported_resource_passes_medplum_validation(engine_factory: EngineFactory) -> None:
    """Each resource of the package is "All OK"; a broken copy of one is refused (the check is live)."""
    engine = engine_factory([])
    package = service_package(load_knowledge())
    with requests.Session() as session:
        session.headers.update(engine.headers())
        refused = {}
        for name, resource in package.resources.items():
            rsp = _validate(session, engine.base_url, resource)
            if rsp.status_code != 200:
                refused[name] = rsp.json()["issue"]
        assert refused == {}
        plan = dict(package.resources["PlanDefinition-lab.magnesium.low-patient-view.json"])
        broken = {**plan, "action": [{**plan["action"][0], "trigger": [{"type": "named-event", "name": 7}]}]}
        rsp = _validate(session, engine.base_url, {key: v for key, v in broken.items() if key != "status"})
        assert rsp.status_code == 400
        problems = [issue["details"]["text"] for issue in rsp.json()["issue"]]
        assert any("required" in text.lower() for text in problems) and any("type" in text.lower() for text in problems)
