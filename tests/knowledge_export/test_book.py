"""The knowledge book (`knowledge export --html`, /knowledge/book/) and reviews.yaml, the record of who reviewed
which knowledge version."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import requests

from service.cli import main
from service.knowledge import KNOWLEDGE_DIR, Knowledge, KnowledgeError, load_knowledge, load_knowledge_from
from service.knowledge.export.book import build_book, page_name
from service.knowledge.export.package import build_package
from tests.conftest import AppFactory
from tests.loopback import serve_app

REVIEW = (
    '  - {{version: "{version}", reviewer: "Dr Test Reviewer", role: "Neurologist", date: 2026-12-01,\n'
    '     outcome: {outcome}, rules: {rules}, note: "<b>checked</b>"}}\n'
)


def _with_review(tmp_path: Path, version: str, outcome: str = "approved", rules: str = "[all]") -> Path:
    """A copy of the knowledge files whose reviews.yaml records one review."""
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__", "export", "sources"))
    review = REVIEW.format(version=version, outcome=outcome, rules=rules)
    (folder / "reviews.yaml").write_text(f"reviews:\n{review}", encoding="utf-8")
    return folder


def _text(page: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.decode()))


def test_one_page_per_rule_with_when_then_thresholds_codes_and_sources() -> None:
    """Each rule has a page; calcium's names its thresholds with units, its LOINC codes with displays and sources."""
    knowledge = load_knowledge()
    pages = build_book(knowledge)
    assert set(pages) == {"index.html", *(page_name(rule_id) for rule_id in knowledge.cards.rules)}
    calcium = _text(pages[page_name("lab.calcium.low")])
    total = knowledge.analyte("calcium_total")
    assert f"fall-back range 8.8-10.5 {total.canonical_unit}" in calcium and "critical below 7 mg/dL" in calcium
    assert f"{total.order.loinc} {total.order.display}" in calcium
    assert knowledge.cards.rules["lab.calcium.low"].why in calcium
    for citation in knowledge.cards.rules["lab.calcium.low"].citations:
        assert knowledge.citations[citation].url in pages[page_name("lab.calcium.low")].decode()
    assert "Not yet approved for this version" in _text(pages["index.html"])


def test_cli_html_writes_the_book(tmp_path: Path) -> None:
    """--html writes DIR/book/ beside DIR/package/, the same pages the service serves."""
    assert main(["knowledge", "export", "--out", str(tmp_path), "--html"]) == 0
    written = {p.name: p.read_bytes() for p in (tmp_path / "book").iterdir()}
    assert written == dict(build_book(load_knowledge()))


def test_a_review_is_shown_escaped_and_an_approval_makes_the_export_active(tmp_path: Path) -> None:
    """An approval of all rules for this version marks every exported resource active and shows on every page."""
    knowledge: Knowledge = load_knowledge_from(_with_review(tmp_path, load_knowledge().version))
    assert knowledge.approved()
    pages = build_book(knowledge)
    assert "Approved for this version" in _text(pages["index.html"])
    page = pages[page_name("red-flags")].decode()
    assert "Dr Test Reviewer (Neurologist), 2026-12-01: approved" in page and "&lt;b&gt;checked&lt;/b&gt;" in page
    package = build_package(knowledge, (("patient-view", "s1"), ("order-select", "s2"), ("order-sign", "s3")))
    assert {r["status"] for r in package.resources.values()} == {"active"}


def test_changes_requested_on_some_rules_keeps_the_export_draft(tmp_path: Path) -> None:
    """A review asking for changes to one rule is shown on that rule only; the export stays draft."""
    folder = _with_review(tmp_path, load_knowledge().version, "changes requested", "[lab.tsh.low]")
    knowledge = load_knowledge_from(folder)
    assert not knowledge.approved()
    pages = build_book(knowledge)
    assert "changes requested" in _text(pages[page_name("lab.tsh.low")])
    assert "No review recorded" in _text(pages[page_name("lab.tsh.high")])


@pytest.mark.parametrize(
    ("version", "rules", "problem"),
    [
        ("2999.1.0", "[all]", "version '2999.1.0' is later than the knowledge version"),
        ("next", "[all]", "version 'next' is not dotted numbers"),
        (None, "[lab.sodium.low]", "unknown rule 'lab.sodium.low'"),
        (None, "[all, red-flags]", "either \\[all\\] or a list of rule ids"),
    ],
)
def test_a_bad_review_stops_the_knowledge_from_loading(
    tmp_path: Path, version: str | None, rules: str, problem: str
) -> None:
    """A review of a later or malformed version, of an unknown rule, or mixing all with rule ids, is refused."""
    with pytest.raises(KnowledgeError, match=problem):
        load_knowledge_from(_with_review(tmp_path, version or load_knowledge().version, rules=rules))


def test_an_earlier_version_s_review_stays_as_history(tmp_path: Path) -> None:
    """A review of an earlier version (even of a rule since renamed) loads and is listed, but approves nothing now."""
    knowledge = load_knowledge_from(_with_review(tmp_path, "2026.1.0", rules="[lab.old.rule]"))
    assert not knowledge.approved() and knowledge.reviews[0].version == "2026.1.0"
    assert "2026.1.0" in _text(build_book(knowledge)["index.html"])


def test_a_review_without_outcome_is_refused(tmp_path: Path) -> None:
    """The outcome is one of approved / changes requested."""
    with pytest.raises(KnowledgeError, match="reviews.yaml: reviews.0.outcome"):
        load_knowledge_from(_with_review(tmp_path, load_knowledge().version, outcome="fine"))


def test_the_book_is_served_without_script(app_factory: AppFactory) -> None:
    """/knowledge/book/ serves the index and each page with a CSP that allows no script; unknown pages are 404."""
    pages = build_book(load_knowledge())
    with serve_app(app_factory()) as base:
        index = requests.get(f"{base}/knowledge/book/", timeout=10)
        assert index.status_code == 200 and index.content == pages["index.html"]
        assert "script-src" not in index.headers["Content-Security-Policy"]
        assert index.headers["Content-Security-Policy"].startswith("default-src 'none'")
        page = requests.get(f"{base}/knowledge/book/{page_name('workup.labs')}", timeout=10)
        assert page.content == pages[page_name("workup.labs")]
        assert requests.get(f"{base}/knowledge/book/nothing.html", timeout=10).status_code == 404
    assert all(b"<script" not in content for content in pages.values())
