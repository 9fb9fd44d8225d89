"""One spelling convention (British, docs/wording.md) in our own phrases, and "culprit" only where the rules say so."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import yaml

from service.facts.ownership import PatientInContext
from service.facts.records import build_record
from service.knowledge import DrugKind, load_knowledge
from service.workup.page import build_page, render_page
from service.workup.timeline import INTERACTING_ROLE, INTERACTING_ROLE_NO_LITHIUM, ROLES
from tests.conftest import NOW, ROOT

KNOWLEDGE = ROOT / "service" / "knowledge"
TEMPLATES = ROOT / "service" / "workup" / "templates"
# The American spelling of words our phrases use or may use (British is the convention; -aemia, not -emia).
AMERICAN = re.compile(
    r"\b(diarrhea|\w*[^a\W]emias?|hyp[eo]r?\w*[^a\W]emic|hemoglobin|edema|anemia|ischemia|tumors?|colors?|behaviors?|"
    r"centers?|liters?|ionized|normalized|esophag\w*|estrogen\w*|pediatric\w*|hematolog\w*)\b",
    re.IGNORECASE,
)
# Not our phrases: citation ids and addresses, and coded displays quoted as LOINC names them.
_STYLE = re.compile(r"<style.*?</style>", re.DOTALL)
SKIPPED_KEYS = {"citations", "url", "loinc", "id"}
LITHIUM_BUNDLE = ROOT / "fixtures" / "patients" / "hypercalcaemia_lithium.json"
NAPROXEN = {
    "resourceType": "MedicationRequest",
    "id": "naproxen-mr",
    "status": "active",
    "intent": "order",
    "medicationCodeableConcept": {"text": "naproxen 500 MG Oral Tablet"},
    "authoredOn": "2026-10-01",
}


def _strings(value: Any) -> Iterator[str]:
    """Every string in a parsed YAML document, keys that are not phrases left out."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in SKIPPED_KEYS:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


class _Text(HTMLParser):
    """The text of a template outside <style> (CSS property names are not prose)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style = self._style or tag == "style"
        self.parts += [value for name, value in attrs if name in {"aria-label", "title"} and value]

    def handle_endtag(self, tag: str) -> None:
        self._style = self._style and tag != "style"

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.parts.append(data)


def _american(phrases: Iterator[str] | list[str]) -> list[str]:
    return sorted({match.group(0) for phrase in phrases for match in AMERICAN.finditer(phrase)})


def _phrases() -> list[str]:
    documents = [
        yaml.safe_load((KNOWLEDGE / name).read_text(encoding="utf-8")) for name in ("cards.yaml", "orders.yaml")
    ]
    phrases = [phrase for document in documents for phrase in _strings(document)]
    for template in TEMPLATES.glob("*.html"):
        parser = _Text()
        parser.feed(_STYLE.sub("", template.read_text(encoding="utf-8")))
        phrases += parser.parts
    return phrases + [*ROLES.values(), INTERACTING_ROLE, INTERACTING_ROLE_NO_LITHIUM]


def test_the_scanner_finds_american_spellings() -> None:
    sample = ["Chronic diarrhea", "Hypokalemia and hypomagnesemic", "hemoglobin, edema", "ionized colour"]
    assert _american(sample) == ["Hypokalemia", "diarrhea", "edema", "hemoglobin", "hypomagnesemic", "ionized"]
    assert _american(["diarrhoea, hypokalaemia, haemoglobin, oedema, ionised calcium, tumour, systemic"]) == []


def test_our_phrases_are_british() -> None:
    phrases = _phrases()
    assert len(phrases) > 100
    assert _american(phrases) == []


def _page(bundle: dict[str, Any]) -> str:
    record = build_record([bundle], patient=PatientInContext(bundle["entry"][0]["resource"]["id"]))
    return render_page(build_page(record, now=NOW, knowledge=load_knowledge()))


def _with_naproxen(lithium: bool) -> dict[str, Any]:
    bundle: dict[str, Any] = copy.deepcopy(json.loads(LITHIUM_BUNDLE.read_text()))
    patient_id = bundle["entry"][0]["resource"]["id"]
    entries = [e for e in bundle["entry"] if lithium or e["resource"]["resourceType"] != "MedicationRequest"]
    naproxen = {**NAPROXEN, "subject": {"reference": f"Patient/{patient_id}"}}
    bundle["entry"] = [*entries, {"fullUrl": "urn:uuid:naproxen-mr", "resource": naproxen}]
    return bundle


def _role_of(html: str, drug: str) -> str:
    row = re.search(rf'<tr class="medication"[^>]*><td>{drug}</td>.*?<td class="role">([^<]*)</td>', html, re.S | re.I)
    assert row, f"no row for {drug}"
    return row.group(1)


def test_naproxen_without_lithium_is_no_culprit() -> None:
    html = _page(_with_naproxen(lithium=False))
    assert _role_of(html, "naproxen") == INTERACTING_ROLE_NO_LITHIUM
    assert "culprit" not in html.lower().replace(INTERACTING_ROLE_NO_LITHIUM, "")


@pytest.mark.parametrize("drug, role", [("naproxen", INTERACTING_ROLE), ("lithium", ROLES[DrugKind.LITHIUM])])
def test_with_lithium_naproxen_raises_the_level_and_lithium_is_the_culprit(drug: str, role: str) -> None:
    html = _page(_with_naproxen(lithium=True))
    assert _role_of(html, drug).lower() == role


def test_wording_doc_names_the_convention() -> None:
    assert "British" in (ROOT / "docs" / "wording.md").read_text(encoding="utf-8")
