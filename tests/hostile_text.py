"""Hostile record text (issue 23 row 4): Markdown links, images, raw HTML and emphasis planted in a patient's record,
and the check that what reaches a card or a page shows it as text, never as markup."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from typing import Any

from markdown_it import MarkdownIt

HOSTILE = (
    "[click](https://evil.example/phish) ![t](https://evil.example/t.png) <img src=x onerror=alert(1)> "
    "**loud** _slanted_ `code` <b>bold</b> &amp; www.evil.example"
)
POTASSIUM_LOINC = "2823-3"


def _poison(resource: dict[str, Any]) -> None:
    """Append the hostile text to condition and drug names; give the potassium result a hostile unit."""
    kind = resource.get("resourceType")
    concept = resource.get("code") if kind == "Condition" else resource.get("medicationCodeableConcept")
    if kind in ("Condition", "MedicationRequest") and isinstance(concept, dict):
        concept["text"] = f"{concept.get('text', '')} {HOSTILE}"
        for coding in concept.get("coding") or []:
            coding["display"] = f"{coding.get('display', '')} {HOSTILE}"
    codes = [c.get("code") for c in (resource.get("code") or {}).get("coding") or []]
    if kind == "Observation" and POTASSIUM_LOINC in codes and "valueQuantity" in resource:
        resource["valueQuantity"] = {"value": resource["valueQuantity"]["value"], "unit": HOSTILE}


def poisoned(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a Bundle or hook request with every resource in it poisoned."""
    copied = copy.deepcopy(document)
    stack: list[Any] = [copied]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "resourceType" in item:
                _poison(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return copied


class _Markup(HTMLParser):
    """Every tag (with its attributes) and all text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def assert_inert_html(fragment: str) -> None:
    """No tag in the HTML points at the hostile host or was written by it; its text is shown as text."""
    parser = _Markup()
    parser.feed(fragment)
    for tag, attrs in parser.tags:
        assert tag not in ("img", "b", "script"), (tag, attrs)
        assert not any("evil.example" in (value or "") for value in attrs.values()), (tag, attrs)
        assert "onerror" not in attrs
    assert "[click](https://evil.example/phish)" in parser.text
    assert "<img src=x onerror=alert(1)>" in parser.text


def assert_inert_markdown(markdown: str) -> None:
    """Rendered as an EHR might (CommonMark, raw HTML on, GFM tables and strikethrough): nothing hostile is markup."""
    renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    rendered = renderer.render(markdown)
    assert_inert_html(rendered)
    parser = _Markup()
    parser.feed(rendered)
    for literal in ("**loud**", "_slanted_", "`code`", "<b>bold</b>", "&amp;"):
        assert literal in parser.text, (literal, rendered)
