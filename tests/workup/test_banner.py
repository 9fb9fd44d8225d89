"""The banner: name, age and sex from the Patient resource, never "Unnamed patient"; and the print stylesheet."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from service.facts.ownership import PatientInContext
from service.facts.records import build_record
from service.knowledge import load_knowledge
from service.workup.banner import NO_NAME, banner, patient_age, patient_name
from service.workup.page import build_page, render_page
from tests.conftest import NOW
from tests.synthea_data import read_bundle, synthea_paths


def _page(bundle: dict[str, Any]) -> str:
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    record = build_record([bundle], patient=PatientInContext(patient["id"]))
    return render_page(build_page(record, now=NOW, knowledge=load_knowledge()))


def _banner_text(html: str) -> str:
    found = re.search(r'<div class="banner" id="patient"[^>]*>(.*?)</div>', html, re.S)
    assert found, "no banner"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


@pytest.mark.parametrize("path", synthea_paths()[:3], ids=lambda p: p.stem.split("_")[0])
def test_synthea_patient_banner_has_name_age_and_sex(path: Any) -> None:
    bundle = read_bundle(path)
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    official = patient["name"][0]
    shown = _banner_text(_page(bundle))
    assert official["family"] in shown and official["given"][0] in shown
    assert re.search(r"\b\d+ years\b", shown) and patient["gender"] in shown
    assert "Unnamed" not in shown and NO_NAME not in shown


def test_official_name_is_preferred_over_an_old_one() -> None:
    patient = {"name": [{"use": "old", "family": "Maiden"}, {"use": "official", "given": ["Ada"], "family": "Byron"}]}
    assert patient_name(patient) == "Ada Byron"
    assert patient_name({"name": [{"text": "  "}, {"given": ["Ada"]}]}) == "Ada"
    assert patient_name({"name": "Ada"}) == NO_NAME and patient_name({}) == NO_NAME


@pytest.mark.parametrize(
    "born, age",
    [
        ("1961-04-02", "65 years"),
        ("1961-11-21", "64 years"),  # the birthday is tomorrow
        ("1961-11-20", "65 years"),
        ("1961", "64–65 years"),
        ("1961-12", "64 years"),
        ("2026-01-15", "10 months"),
        ("2027-01-01", ""),
        ("not a date", ""),
    ],
)
def test_age_on_the_page_date(born: str, age: str) -> None:
    assert patient_age(born, dt.date(2026, 11, 20)) == age


def test_banner_label_and_missing_fields() -> None:
    full = banner({"name": [{"text": "Ada Byron"}], "birthDate": "1961-04-02", "gender": "female"}, NOW)
    assert full.label == "Ada Byron, 65 years, female, born 1961-04-02"
    assert banner(None, NOW).label == NO_NAME
    assert banner({"gender": 3, "birthDate": ["x"]}, NOW).label == NO_NAME


def test_print_stylesheet_hides_navigation_and_opens_the_value_tables() -> None:
    html = _page(read_bundle(synthea_paths()[0]))
    print_css = html[html.index("@media print") :]
    assert "header nav" in print_css and "details::details-content" in print_css and "break-inside: avoid" in print_css
