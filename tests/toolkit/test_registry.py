"""The service registry: one discovery entry per id, duplicates refused at start-up."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks import BadRequest, HookRequest, Prefetched, ServiceDefinition, ServiceRegistry
from cds_hooks.errors import NotFound


def _silent(_request: HookRequest, _prefetched: Prefetched) -> dict[str, Any]:
    return {"cards": []}


def _definition(service_id: str, hook: str) -> ServiceDefinition:
    return ServiceDefinition(service_id, hook, "Title", "Description.", _silent)


def test_a_shared_id_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        ServiceRegistry([_definition("screen", "patient-view"), _definition("screen", "order-sign")])


def test_each_id_is_one_entry_answering_one_hook() -> None:
    registry = ServiceRegistry([_definition("screen", "patient-view"), _definition("screen-sign", "order-sign")])
    ids = [entry["id"] for entry in registry.discovery_document()["services"]]
    assert ids == ["screen", "screen-sign"]
    assert registry.find("screen-sign", "order-sign").hook == "order-sign"
    with pytest.raises(BadRequest):
        registry.find("screen", "order-sign")
    with pytest.raises(NotFound):
        registry.get("nothing")
