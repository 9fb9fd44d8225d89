"""The FHIR client's own limits: one time budget per hook call, and the lent token is never replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_hooks import FhirClient, FhirClientSettings
from cds_hooks.errors import FhirTimeout
from tests.loopback import Answer, Loopback


def test_total_budget_stops_a_slow_paged_search(fhir: Loopback) -> None:
    for n in range(1, 6):
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "link": [{"relation": "next", "url": f"{fhir.base_url}/page{n + 1}"}],
        }
        fhir.route(f"page{n}", Answer(bundle, delay_s=0.15))
    settings = FhirClientSettings(read_timeout_s=1.0, total_timeout_s=0.4, max_pages=10)
    client = FhirClient(fhir.base_url, settings=settings)
    with pytest.raises(FhirTimeout):
        client.fetch("page1")
    assert len(fhir.requests) < 5  # the budget, not the page cap, ended the search


def test_netrc_entry_does_not_replace_the_bearer_token(
    fhir: Loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    fhir.route("Patient/p1", Answer({"resourceType": "Patient", "id": "p1"}))
    FhirClient(fhir.base_url, "lent-token").fetch("Patient/p1")
    assert [r.authorization for r in fhir.requests] == ["Bearer lent-token"]
