"""order-select / order-sign through the real app: every fixture's cards, spec validity, silence, bad contexts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_hooks.response import check_response
from service.cards import CARD_EXTENSION
from service.hooks import SERVICE_IDS

from .conftest import SERVICE_URLS, fixture_names, order_request

EMG, REFERRAL, NEW = "Before this EMG", "Before this neurology referral", "New order, patient has fasciculations"
ALS, MS = "Before escalating ALS treatment", "Before changing MS treatment"
MG_K_EMG = [("lab.magnesium.low", EMG), ("lab.potassium.low", EMG)]
SAFETY = "Order safety"

# fixture -> [(rule id, framing of the summary)] in display order (both hooks unless the name says "selected").
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "emg_incomplete_workup": [("workup.labs", EMG)],
    "emg_low_magnesium": MG_K_EMG,
    "ncs_text_low_magnesium": [("lab.magnesium.low", EMG)],
    "neurology_referral": [("workup.labs", REFERRAL)],
    "riluzole_escalation": [("lab.magnesium.low", ALS)],
    "ms_dmt_escalation": [("workup.labs", MS)],
    "new_lithium": [("drug.lithium", NEW)],
    "new_albuterol": [("drug.beta2-agonist", NEW)],
    "several_orders": [*MG_K_EMG, ("drug.beta2-agonist", NEW)],
    "several_orders_emg_selected": MG_K_EMG,  # order-select: only the selected EMG counts, not the albuterol
    "several_orders_xray_selected": [],  # order-select: the selected chest X-ray is unrelated
    "unrelated_order": [],
    "emg_no_fasciculations": [],  # ALS without documented fasciculations (patient-view would show succinylcholine)
    # issue 11 item 1: succinylcholine after denervation is a critical safety card, with or without fasciculations
    "succinylcholine_als": [("drug.succinylcholine.denervation", SAFETY)],
    "succinylcholine_ms_weakness": [("drug.succinylcholine.denervation", SAFETY)],
    "succinylcholine_no_denervation": [("drug.succinylcholine", NEW)],
    "ms_dmt_atc_2026": [("workup.labs", MS)],  # issue 11 item 8: ocrelizumab by its 2026 ATC code L04AG08 alone
}
CASES = [(hook, name) for hook in ("order-select", "order-sign") for name in fixture_names(hook)]


def call(client: FlaskClient, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post(SERVICE_URLS.get(str(body.get("hook")), SERVICE_URLS["order-sign"]), json=body)
    document = response.get_json()
    assert isinstance(document, dict)
    return response.status_code, document


def test_every_fixture_has_an_expectation() -> None:
    assert {name for _, name in CASES} == set(EXPECTED)
    assert set(fixture_names("order-sign")) == {n for n in EXPECTED if "selected" not in n}


@pytest.mark.parametrize(("hook", "name"), CASES)
def test_fixture_cards(client: FlaskClient, hook: str, name: str) -> None:
    status, document = call(client, order_request(hook, name))
    assert status == 200
    check_response(document)
    cards = document["cards"]
    got = [(card["extension"][CARD_EXTENSION]["ruleId"], card["summary"].split(": ", 1)[0]) for card in cards]
    assert got == EXPECTED[name]


def test_emg_card_names_the_value_and_offers_lab_orders(client: FlaskClient) -> None:
    _, low_mg = call(client, order_request("order-sign", "emg_low_magnesium"))
    assert low_mg["cards"][0]["summary"] == "Before this EMG: Magnesium low (1.1 mg/dL, 4 days ago); correct Mg first"
    _, workup = call(client, order_request("order-select", "emg_incomplete_workup"))
    (card,) = workup["cards"]
    actions = [a for s in card["suggestions"] for a in s["actions"]]
    assert {a["resource"]["resourceType"] for a in actions} == {"ServiceRequest"}
    assert card["selectionBehavior"] == "any"


def test_culprit_card_names_the_drug_and_what_to_monitor(client: FlaskClient) -> None:
    _, albuterol = call(client, order_request("order-sign", "new_albuterol"))
    assert albuterol["cards"][0]["summary"] == f"{NEW}: Albuterol ordered now: can cause twitching"
    _, lithium = call(client, order_request("order-select", "new_lithium"))
    (card,) = lithium["cards"]
    assert card["summary"] == f"{NEW}: On lithium: no level on record"
    # issue 15: renal function belongs with lithium (clearance); the fixture has no creatinine or eGFR
    assert [s["label"] for s in card["suggestions"]] == ["Order Lithium", "Order Creatinine", "Order all 2 labs"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_succinylcholine_order_after_denervation_is_critical_not_reassuring(client: FlaskClient, hook: str) -> None:
    _, document = call(client, order_request(hook, "succinylcholine_als"))
    (card,) = document["cards"]
    assert card["indicator"] == "critical"
    assert card["summary"] == (
        f"{SAFETY}: Succinylcholine ordered now with denervation: risk of life-threatening hyperkalaemia"
    )
    assert "expected transient" not in card["summary"] + card["detail"]
    assert "ALS / motor neuron disease" in card["detail"] and "non-depolarising" in card["detail"]
    _, plain = call(client, order_request(hook, "succinylcholine_no_denervation"))
    (warning,) = plain["cards"]
    assert warning["indicator"] == "warning"
    assert warning["summary"] == f"{NEW}: Succinylcholine ordered now: expected transient fasciculations"


def test_discovery_lists_both_order_hooks_with_2_0_prefetch(client: FlaskClient) -> None:
    services = client.get("/cds-services").get_json()["services"]
    by_hook = {s["hook"]: s for s in services}
    assert {"order-select", "order-sign", "patient-view"} <= set(by_hook)
    for hook in ("order-select", "order-sign"):
        prefetch = by_hook[hook]["prefetch"]
        assert prefetch == by_hook["patient-view"]["prefetch"]
        assert all("draftOrders" not in template for template in prefetch.values())


def test_discovery_lists_each_id_once_with_its_own_hook(client: FlaskClient) -> None:
    services = client.get("/cds-services").get_json()["services"]
    ids = [s["id"] for s in services]
    assert len(ids) == len(set(ids))
    assert {s["hook"]: s["id"] for s in services} == SERVICE_IDS
    assert SERVICE_IDS["patient-view"] == "fasciculation-reversible-causes"  # existing configurations keep working


def test_a_service_id_answers_only_its_own_hook(client: FlaskClient) -> None:
    body = order_request("order-select", "emg_low_magnesium")
    response = client.post(SERVICE_URLS["order-sign"], json=body)
    assert response.status_code == 400 and "hook" in response.get_json()["fields"]
    assert client.post(SERVICE_URLS["patient-view"], json=body).status_code == 400


@pytest.mark.parametrize(
    ("hook", "change", "field"),
    [
        ("order-sign", lambda ctx: ctx.pop("draftOrders"), "context.draftOrders"),
        ("order-select", lambda ctx: ctx.pop("draftOrders"), "context.draftOrders"),
        ("order-select", lambda ctx: ctx.pop("selections"), "context.selections"),
        ("order-select", lambda ctx: ctx.update(selections=["ServiceRequest/not-there"]), "context.selections"),
        ("order-sign", lambda ctx: ctx.update(draftOrders={"resourceType": "Patient"}), "context.draftOrders"),
    ],
)
def test_bad_context_is_400_naming_the_field(client: FlaskClient, hook: str, change: Any, field: str) -> None:
    body = copy.deepcopy(order_request(hook, "several_orders"))
    change(body["context"])
    status, document = call(client, body)
    assert status == 400
    assert field in document["fields"]


def test_non_draft_orders_do_not_count(client: FlaskClient) -> None:
    body = copy.deepcopy(order_request("order-sign", "emg_low_magnesium"))
    body["context"]["draftOrders"]["entry"][0]["resource"]["status"] = "active"  # a re-signed order, not new
    assert call(client, body) == (200, {"cards": []})


def test_a_culprit_is_read_once_as_the_order_it_becomes(client: FlaskClient) -> None:
    """The draft's own start date is used; a validity end or a Medication that cannot be read does not drop it."""
    body = copy.deepcopy(order_request("order-sign", "new_albuterol"))
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft["authoredOn"] = "2026-11-19T08:00:00Z"
    draft["dispenseRequest"] = {"validityPeriod": {"end": "when the inhaler runs out"}}
    draft["contained"] = [{"resourceType": "Medication", "id": "m", "code": {"coding": "not a list of codings"}}]
    _, document = call(client, body)
    (card,) = document["cards"]
    assert card["summary"] == f"{NEW}: Albuterol ordered now: can cause twitching"
    assert "MedicationRequest active, started 2026-11-19" in card["detail"]
