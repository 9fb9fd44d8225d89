"""One formatter for displayed lab values (issue 22): as reported, rounded per analyte, never more precise.

``service.facts.numbers`` makes every shown value: "4.0" stays "4.0", a computed feed value (8.528144890830262)
is rounded to the analyte's ``display_decimals`` (labs.yaml) at the same resolution in any unit, and a converted
value never shows more significant figures than were reported. Cards (HTTP and ``evaluate``) and the work-up page
show the same text.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.cli import main
from service.facts.numbers import converted_text, decimals_for_unit, reported_text, significant_figures
from service.hooks import SERVICE_IDS
from service.knowledge import load_knowledge
from service.prefetch_keys import PatientInContext, prefetched_record
from service.workup.page import build_page, render_page
from tests.conftest import NOW, REQUESTS, AppFactory

KNOWLEDGE = load_knowledge()
BASE: dict[str, Any] = json.loads((REQUESTS / "patient-view" / "magnesium_first.json").read_text("utf-8"))
RAW_FLOAT = re.compile(r"\d\.\d{5,}")


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [(4.0, 1, "4.0"), (8.528144890830262, 1, "8.5"), (140, 0, "140"), (142.75642566905307, 0, "143"), (0.8, 2, "0.8")],
)
def test_reported_values_keep_their_precision_and_lose_float_noise(value: float, decimals: int, shown: str) -> None:
    assert reported_text(value, decimals) == shown


def test_the_same_resolution_in_another_unit() -> None:
    assert decimals_for_unit(1, 4.008) == 2  # calcium: 1 decimal in mg/dL is 2 in mmol/L
    assert decimals_for_unit(1, 0.1) == 0  # albumin: 1 decimal in g/dL is none in g/L
    assert decimals_for_unit(2, 1.0) == 2


def test_converted_values_never_show_more_significant_figures_than_reported() -> None:
    assert significant_figures("2") == 1 and significant_figures("2.10") == 3 and significant_figures("140") == 3
    assert converted_text(8.016, 1, "2") == "8"  # 2 mmol/L of calcium is not "8.016 mg/dL"
    assert converted_text(8.497, 1, "2.12") == "8.5"


def with_values(magnesium: float, calcium_mmol: float | None = None) -> dict[str, Any]:
    """magnesium_first with its magnesium (mg/dL) and optionally its calcium (mmol/L) replaced."""
    body = copy.deepcopy(BASE)
    for entry in body["prefetch"]["labs"]["entry"]:
        resource = entry["resource"]
        code = resource["code"]["coding"][0]["code"]
        if code == "19123-9":
            resource["valueQuantity"]["value"] = magnesium
        if code == "17861-6" and calcium_mmol is not None:
            resource["valueQuantity"].update(value=calcium_mmol, unit="mmol/L", code="mmol/L")
            resource.pop("referenceRange", None)
    return body


@pytest.fixture
def client(app_factory: AppFactory) -> FlaskClient:
    return app_factory().test_client()


def test_cards_show_no_float_noise_and_keep_reported_zeros(client: FlaskClient) -> None:
    body = with_values(1.0999999999999999 + 0.0123456789)
    cards = client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body).get_json()["cards"]
    text = json.dumps(cards)
    assert "Magnesium low (1.1 mg/dL" in text and not RAW_FLOAT.search(text)


def test_evaluate_prints_the_same_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = with_values(1.11234567)
    entries = [e for v in body["prefetch"].values() if v for e in (v.get("entry") or [{"resource": v}])]
    path = tmp_path / "patient.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), "utf-8")
    assert main(["evaluate", "--bundle", str(path), "--now", NOW.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "Magnesium low (1.1 mg/dL" in out and not RAW_FLOAT.search(out)


def test_the_workup_page_shows_converted_values_at_the_reported_precision() -> None:
    body = with_values(1.11234567, calcium_mmol=2)
    record = prefetched_record(body["prefetch"], PatientInContext("magnesium-first"))
    page = render_page(build_page(record, now=NOW, knowledge=KNOWLEDGE, window_days=365))
    words = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)  # the charts' own drawing coordinates aside
    assert "<td>2 mmol/L</td>" in words and "<td>8</td>" in words  # calcium: as reported, and in mg/dL
    assert "<td>4.0 g/dL</td>" in words  # albumin as reported: "4.0" stays "4.0"
    assert "8.016" not in page and not RAW_FLOAT.search(words)
    assert '<desc class="value">2026-11-16: 1.1 mg/dL</desc>' in page  # the chart's tooltip too
