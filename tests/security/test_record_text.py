"""Record text is data, not markup (issue 23 row 4): hostile names and units through cards over HTTP, the CLI and the
offline work-up page come out as text; the offline page carries the served page's CSP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from cds_hooks.markdown import escape_markdown, plain_text
from service.cli import main
from service.workup.page import PAGE_POLICY
from tests.conftest import NOW, REQUESTS, ROOT, service_app
from tests.hostile_text import HOSTILE, assert_inert_html, assert_inert_markdown, poisoned
from tests.loopback import serve_app

REQUEST = REQUESTS / "patient-view" / "magnesium_first.json"
BUNDLE = ROOT / "fixtures" / "patients" / "magnesium_first.json"


def _details_naming_the_record(cards: list[dict[str, object]]) -> list[str]:
    details = [str(card.get("detail") or "") for card in cards]
    named = [detail for detail in details if "evil" in detail]
    assert len(named) >= 2, details  # the diarrhoea condition on the Mg/K cards, the K unit on the work-up card
    return named


@pytest.mark.parametrize("text", [HOSTILE, "a_b *c* [d] <e> 1. f", "- item", "1) x", "line\nbreak # h", "\\*"])
def test_escape_is_undone_by_plain_text_and_keeps_one_line(text: str) -> None:
    escaped = escape_markdown(text)
    assert "\n" not in escaped and plain_text(escaped) == text.replace("\n", " ")


def test_hostile_text_through_cards_over_http(tmp_path: Path) -> None:
    body = poisoned(json.loads(REQUEST.read_bytes()))
    with service_app(tmp_path) as app, serve_app(app) as url:
        answer = requests.post(f"{url}/cds-services/fasciculation-reversible-causes", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    cards = answer.json()["cards"]
    for detail in _details_naming_the_record(cards):
        assert_inert_markdown(detail)
    assert all("\\" not in card["summary"] for card in cards)  # the summary is plain text, never escaped


def test_hostile_text_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "hostile.json"
    bundle.write_text(json.dumps(poisoned(json.loads(BUNDLE.read_bytes()))), encoding="utf-8")
    assert main(["evaluate", "--bundle", str(bundle), "--now", NOW.isoformat()]) == 0
    for detail in _details_naming_the_record(json.loads(capsys.readouterr().out)["cards"]):
        assert_inert_markdown(detail)


def test_offline_page_shows_hostile_text_as_text_under_the_served_csp(tmp_path: Path) -> None:
    bundle, out = tmp_path / "hostile.json", tmp_path / "page.html"
    bundle.write_text(json.dumps(poisoned(json.loads(BUNDLE.read_bytes()))), encoding="utf-8")
    assert main(["workup", "--bundle", str(bundle), "--now", NOW.isoformat(), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert policy and policy.group(1).replace("&#39;", "'") == PAGE_POLICY
    assert page.index("Content-Security-Policy") < page.index("<style")
    findings = page[page.index('<section id="findings"') : page.index('<section id="trends"')]
    assert "evil.example" in findings
    assert_inert_html(findings)
