"""GET /openapi.json: an OpenAPI 3 description built from the registry, consistent with what the API does."""

from __future__ import annotations

from typing import Any

from flask import Flask

from cds_hooks import ServiceDefinition, ServiceRegistry, openapi_document
from tests.security.conftest import build_app, echo, hook_body


def refs(node: Any) -> set[str]:
    """Every $ref in a JSON document."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def test_served_without_a_token_and_describes_auth(app: Flask) -> None:
    rsp = app.test_client().get("/openapi.json")
    assert rsp.status_code == 200
    document = rsp.get_json()
    assert document["openapi"] == "3.0.3"
    call = document["paths"]["/cds-services/echo"]["post"]
    assert call["security"] == [{"cdsHooksJwt": []}]
    assert document["components"]["securitySchemes"]["cdsHooksJwt"]["bearerFormat"] == "JWT"
    assert set(call["responses"]) == {"200", "400", "401", "404", "412", "413", "415"}
    assert document["paths"]["/cds-services"]["get"]["security"] == []


def test_without_auth_no_security_is_claimed() -> None:
    document = build_app().test_client().get("/openapi.json").get_json()
    assert "securitySchemes" not in document["components"]
    assert document["paths"]["/cds-services/echo"]["post"]["security"] == []
    assert "/cds-services/echo/feedback" not in document["paths"]


def test_every_reference_resolves() -> None:
    document = build_app(feedback_sink=lambda service_id, items: {}).test_client().get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas
    assert "/cds-services/echo/feedback" in document["paths"]


def test_each_service_path_names_its_own_hook() -> None:
    registry = ServiceRegistry(
        [
            ServiceDefinition("orders-select", "order-select", "Orders", "Checks orders.", echo),
            ServiceDefinition("orders-sign", "order-sign", "Orders", "Checks orders.", echo),
        ]
    )
    document = openapi_document(registry)
    for service_id, hook in (("orders-select", "order-select"), ("orders-sign", "order-sign")):
        body = document["paths"][f"/cds-services/{service_id}"]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["properties"]["hook"]["enum"] == [hook]


def test_the_described_request_is_what_the_service_accepts() -> None:
    document = build_app().test_client().get("/openapi.json").get_json()
    schema = document["paths"]["/cds-services/echo"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = hook_body()
    assert set(schema["required"]) <= set(body)
    assert body["hook"] in schema["properties"]["hook"]["enum"]
    assert build_app().test_client().post("/cds-services/echo", json=body).status_code == 200
