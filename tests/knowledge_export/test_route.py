"""/knowledge/ serves the exported package read-only over a real socket, and discovery links to it."""

from __future__ import annotations

import requests

from service.knowledge import load_knowledge
from service.knowledge.export.web import EXTENSION_KEY, service_package
from tests.conftest import AppFactory
from tests.loopback import serve_app


def test_knowledge_files_are_served_as_exported(app_factory: AppFactory) -> None:
    """The listing names every file; each file is the exported bytes, resources as application/fhir+json."""
    package = service_package(load_knowledge())
    with serve_app(app_factory()) as base:
        listing = requests.get(f"{base}/knowledge/", timeout=10).json()
        assert listing["package"] == package.name
        assert {f["filename"] for f in listing["files"]} == set(package.files)
        plan = "PlanDefinition-lab.magnesium.low-patient-view.json"
        rsp = requests.get(f"{base}/knowledge/{plan}", timeout=10)
        assert rsp.status_code == 200 and rsp.content == package.files[plan]
        assert rsp.headers["Content-Type"].startswith("application/fhir+json")
        manifest = requests.get(f"{base}/knowledge/package.json", timeout=10)
        assert manifest.headers["Content-Type"].startswith("application/json")
        assert manifest.json()["name"] == package.name


def test_unknown_files_and_writes_are_refused(app_factory: AppFactory) -> None:
    """An unknown file is a JSON 404, a path outside the package finds nothing, a write is 405."""
    with serve_app(app_factory()) as base:
        missing = requests.get(f"{base}/knowledge/ValueSet-nothing.json", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        outside = requests.get(f"{base}/knowledge/../service/knowledge/labs.yaml", timeout=10)
        assert outside.status_code == 404
        write = requests.put(f"{base}/knowledge/package.json", data=b"{}", timeout=10)
        assert write.status_code == 405


def test_discovery_links_each_service_to_its_plan_definitions(app_factory: AppFactory) -> None:
    """Every discovery entry carries the package link and its hook's PlanDefinitions, each of which is served."""
    with serve_app(app_factory(public_url="https://cds.example.test")) as base:
        services = requests.get(f"{base}/cds-services", timeout=10).json()["services"]
        for service in services:
            link = service["extension"][EXTENSION_KEY]
            assert link["package"] == "https://cds.example.test/knowledge/package.json"
            assert link["planDefinitions"]
            for url in link["planDefinitions"]:
                assert url.endswith(f"-{service['hook']}.json")
                path = url.removeprefix("https://cds.example.test")
                assert requests.get(f"{base}{path}", timeout=10).status_code == 200
