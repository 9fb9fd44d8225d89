"""Optional prefetch keys: left out (not a 412) when the client did not send them and they cannot be fetched."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks import FhirClientSettings, PreconditionFailed, PrefetchResolver, ServerAllowList, client_factory
from cds_hooks.schemas import load_hook_request
from tests.loopback import Answer, Loopback
from tests.toolkit.conftest import PREFETCH, hook_body
from tests.toolkit.test_prefetch_fallback import authorization

PATIENT = {"resourceType": "Patient", "id": "p1"}
LABS = {"resourceType": "Bundle", "type": "searchset", "entry": []}


def resolve(body: dict[str, Any]) -> dict[str, Any]:
    """Resolve ``body`` with ``labs`` declared optional."""
    settings = FhirClientSettings(connect_timeout_s=0.5, read_timeout_s=0.5, max_pages=3)
    resolver = PrefetchResolver(PREFETCH, client_factory(ServerAllowList(None), settings), optional=frozenset({"labs"}))
    return dict(resolver.resolve(load_hook_request(body, frozenset({"patient-view"}))))


def test_an_optional_key_not_sent_and_no_server_is_left_out() -> None:
    assert resolve(hook_body(prefetch={"patient": PATIENT})) == {"patient": PATIENT}


def test_a_required_key_not_sent_and_no_server_is_still_412() -> None:
    with pytest.raises(PreconditionFailed) as refused:
        resolve(hook_body(prefetch={"labs": LABS}))
    assert refused.value.status == 412 and refused.value.prefetch_keys == ["patient"]


def test_an_optional_key_the_server_fails_is_left_out(fhir: Loopback) -> None:
    fhir.route("Observation?patient=Patient/p1&_count=2", Answer({"error": "down"}, status=500))
    body = hook_body(prefetch={"patient": PATIENT}, **authorization(fhir.base_url))
    assert resolve(body) == {"patient": PATIENT}
    assert [r.path for r in fhir.requests] == ["/fhir/Observation?patient=Patient/p1&_count=2"]


def test_an_optional_key_the_server_delivers_is_used(fhir: Loopback) -> None:
    fhir.route("Observation?patient=Patient/p1&_count=2", Answer(LABS))
    body = hook_body(prefetch={"patient": PATIENT}, **authorization(fhir.base_url))
    assert resolve(body) == {"patient": PATIENT, "labs": LABS}


def test_a_required_key_the_server_fails_is_still_412(fhir: Loopback) -> None:
    fhir.route("Patient/p1", Answer({"error": "down"}, status=500))
    with pytest.raises(PreconditionFailed):
        resolve(hook_body(prefetch={"labs": LABS}, **authorization(fhir.base_url)))


def test_optional_keys_need_a_template() -> None:
    settings = FhirClientSettings(connect_timeout_s=0.5, read_timeout_s=0.5, max_pages=3)
    with pytest.raises(ValueError, match="without a template"):
        PrefetchResolver(PREFETCH, client_factory(ServerAllowList(None), settings), optional=frozenset({"exam"}))
