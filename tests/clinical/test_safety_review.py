"""Issue 11 (clinical safety review): each finding through ``evaluate --bundle`` and over HTTP, with its wording.

Every case here gave a wrong, reassuring or missing card on the main before the fix.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.cards import CARD_EXTENSION
from service.cli import main
from service.hooks import SERVICE_IDS
from tests.conftest import NOW, REQUESTS, ROOT, service_app

PATIENTS = ROOT / "fixtures" / "patients"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    with service_app(tmp_path_factory.mktemp("review")) as app:
        yield app.test_client()


def _cli(*args: str) -> list[dict[str, Any]]:
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["evaluate", *args, "--now", NOW.isoformat(), "--hook-instance", "review"]) == 0
    cards: list[dict[str, Any]] = json.loads(printed.getvalue())["cards"]
    return cards


def _http(client: FlaskClient, hook: str, name: str) -> list[dict[str, Any]]:
    request = json.loads((REQUESTS / hook / f"{name}.json").read_text(encoding="utf-8"))
    response = client.post(f"/cds-services/{SERVICE_IDS[hook]}", json=request)
    assert response.status_code == 200
    cards: list[dict[str, Any]] = response.get_json()["cards"]
    return cards


def _both(client: FlaskClient, name: str) -> list[list[dict[str, Any]]]:
    return [_cli("--bundle", str(PATIENTS / f"{name}.json")), _http(client, "patient-view", name)]


def _only(cards: list[dict[str, Any]], rule_id: str) -> dict[str, Any]:
    matching = [c for c in cards if c["extension"][CARD_EXTENSION]["ruleId"] == rule_id]
    assert len(matching) == 1, [c["summary"] for c in cards]
    return matching[0]


def _orders(card: dict[str, Any]) -> list[str]:
    return [a["resource"]["code"]["coding"][0]["code"] for s in card.get("suggestions", []) for a in s["actions"]]


# (scenario, rule id, indicator, text the summary must hold, text the detail must hold, text neither may hold)
CASES: list[tuple[str, str, str, str, str, str]] = [
    # 1: denervation -> critical hyperkalaemia warning, never "expected fasciculations"
    (
        "als_succinylcholine",
        "drug.succinylcholine.denervation",
        "critical",
        "hyperkalaemia",
        "non-depolarising",
        "expected transient",
    ),
    (
        "ms_weakness_succinylcholine",
        "drug.succinylcholine.denervation",
        "critical",
        "hyperkalaemia",
        "Multiple sclerosis",
        "expected transient",
    ),
    (
        "immobilised_succinylcholine",
        "drug.succinylcholine.denervation",
        "critical",
        "hyperkalaemia",
        "Prolonged immobilisation",
        "expected transient",
    ),
    (
        "succinylcholine_no_denervation",
        "drug.succinylcholine",
        "warning",
        "expected transient fasciculations",
        "without denervation",
        "hyperkalaemia",
    ),
    # 2: TSH read with free T4
    (
        "thyroid_low_tsh_low_ft4",
        "lab.tsh.low",
        "warning",
        "central hypothyroidism or non-thyroidal illness",
        "is not thyroid hormone excess",
        "points to thyroid hormone excess",
    ),
    (
        "thyroid_high_tsh_high_ft4",
        "lab.tsh.high",
        "warning",
        "not interpreted automatically",
        "assay interference",
        "points to hypothyroidism",
    ),
    (
        "thyroid_low_tsh_no_ft4",
        "lab.tsh.low",
        "warning",
        "possible thyroid hormone excess",
        "free T4 decides",
        "points to thyroid hormone excess",
    ),
    # 3: red flags may not be explained; the reversible cause found is named
    (
        "red_flags_low_magnesium",
        "red-flags",
        "warning",
        "hyperreflexia",
        "also found on this record: low magnesium",
        "are not explained",
    ),
    # 4: toxic lithium -> withhold and assess now
    (
        "lithium_toxic",
        "lab.lithium.toxic",
        "critical",
        "Lithium toxicity possible",
        "Withhold lithium now",
        "repeat a 12-hour trough level, then",
    ),
    ("lithium_high_twitching", "lab.lithium.toxic", "critical", "1.3 mmol/L", "Withhold lithium now", "0.6-1.2"),
    (
        "lithium_high_no_twitching",
        "lab.lithium.high",
        "warning",
        "1.3 mmol/L",
        "0.8-1.0 mmol/L for maintenance",
        "Withhold",
    ),
    # 5: published critical threshold
    ("potassium_severe", "lab.potassium.low", "critical", "2.3 mmol/L", "Potassium", "unit not understood"),
    # 6: any UCUM unit; a unit that cannot be read is shown and the lab offered again
    ("magnesium_mg_per_l", "lab.magnesium.low", "warning", "14 mg/L", "Magnesium", "unit not understood"),
    ("thyroid_low_tsh_low_ft4", "lab.tsh.low", "warning", "0.1 mU/L", "TSH", "unit not understood"),
    (
        "unit_not_understood",
        "workup.labs",
        "info",
        "Mg unit not understood",
        "result present (1.9 mg per 100 mL serum",
        "not measured",
    ),
    # 7: a preliminary result newer than the final one is used and said to be preliminary
    ("preliminary_magnesium", "lab.magnesium.low", "critical", "preliminary", "Preliminary result", "0.8 mg/dL"),
    # 9: remission is still a diagnosis; stopped without an end date is a stop at an unknown time
    ("ms_remission_low_magnesium", "lab.magnesium.low", "warning", "1.4 mg/dL", "Magnesium", "preliminary"),
    (
        "antihistamine_stopped_no_date",
        "drug.ethanolamine-antihistamine",
        "warning",
        "stop date not recorded",
        "stop date not recorded",
        "active",
    ),
    # 10: uncorrected calcium -> confirm before treating
    (
        "calcium_uncorrected",
        "lab.calcium.low",
        "warning",
        "uncorrected: confirm before treating",
        "Confirm before treating",
        "Correct calcium (and",
    ),
    # 8: codes verified in public sources (ionised Ca ISE 12180-6; RBC cholinesterase per volume 2099-0 in IU/L)
    ("ionised_calcium_ise", "lab.calcium.low", "warning", "0.95 mmol/L ionised", "Ionised calcium", "9.4 mg/dL"),
    (
        "organophosphate_rbc_per_volume",
        "exposure.organophosphate.nicotinic",  # exposure 5 days ago with fasciculations: toxicity (issue 15)
        "critical",
        "RBC ChE low",
        "RBC cholinesterase (per volume): **7000 IU/L**",
        "Order",
    ),
    # 8: gentamicin by its ingredient RxCUI 1596450; vonoprazan (A02BC08) is not a PPI for the FDA warning
    ("magnesium_gentamicin_vonoprazan", "lab.magnesium.low", "warning", "1.4 mg/dL", "Gentamicin", "P-CAB"),
]


@pytest.mark.parametrize(("name", "rule_id", "indicator", "in_summary", "in_detail", "absent"), CASES)
def test_review_finding_through_cli_and_http(
    client: FlaskClient, name: str, rule_id: str, indicator: str, in_summary: str, in_detail: str, absent: str
) -> None:
    for cards in _both(client, name):
        card = _only(cards, rule_id)
        assert card["indicator"] == indicator
        assert in_summary in card["summary"]
        assert in_detail in card["detail"]
        assert absent not in card["summary"] + card["detail"]


def test_uninterpretable_unit_still_offers_the_lab(client: FlaskClient) -> None:
    for cards in _both(client, "unit_not_understood"):
        assert _orders(_only(cards, "workup.labs")) == ["19123-9"]


def test_uncorrected_calcium_offers_ionised_calcium_and_albumin(client: FlaskClient) -> None:
    for cards in _both(client, "calcium_uncorrected"):
        assert _orders(_only(cards, "lab.calcium.low"))[:2] == ["1995-0", "1751-7"]


def test_rbc_cholinesterase_per_volume_answers_the_rbc_order(client: FlaskClient) -> None:
    for cards in _both(client, "organophosphate_rbc_per_volume"):
        assert _orders(_only(cards, "exposure.organophosphate.nicotinic")) == []


def test_low_tsh_without_free_t4_offers_free_t4(client: FlaskClient) -> None:
    for cards in _both(client, "thyroid_low_tsh_no_ft4"):
        assert _orders(_only(cards, "lab.tsh.low")) == ["3024-7"]


@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_succinylcholine_order_in_als_through_cli_and_http(client: FlaskClient, hook: str, tmp_path: Path) -> None:
    request = json.loads((REQUESTS / hook / "succinylcholine_als.json").read_text(encoding="utf-8"))
    drafts = tmp_path / "drafts.json"
    drafts.write_text(json.dumps(request["context"]["draftOrders"]), encoding="utf-8")
    bundle = str(PATIENTS / "als_normal_labs.json")
    args = ["--bundle", bundle, "--hook", hook, "--draft-orders", str(drafts)]
    if hook == "order-select":
        args += ["--selection", "MedicationRequest/sux-1"]
    for cards in (_cli(*args), _http(client, hook, "succinylcholine_als")):
        card = _only(cards, "drug.succinylcholine.denervation")
        assert card["indicator"] == "critical"
        assert "expected transient" not in card["summary"]
