"""The book's "what changed since the previous version": `knowledge export --html --previous DIR` compares the
current package with an earlier export, per rule."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from service.knowledge import load_knowledge
from service.knowledge.export.book import compare, page_name
from service.knowledge.export.changes import read_previous
from service.knowledge.export.web import service_package

MAGNESIUM_PLAN = "PlanDefinition-lab.magnesium.low-patient-view.json"


def _export(folder: Path, *extra: str) -> None:
    assert main(["knowledge", "export", "--out", str(folder), *extra]) == 0


def _edit(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """An export standing for version 2026.10.0: magnesium's summary and codes differed, TSH-high did not exist,
    and a zinc rule existed."""
    folder = tmp_path / "previous"
    _export(folder)
    package = folder / "package"
    _edit(package / "package.json", lambda d: d.update(version="2026.10.0"))
    _edit(package / MAGNESIUM_PLAN, lambda d: d["action"][0].update(title="Mg low"))
    vs = package / "ValueSet-lab-magnesium.json"
    _edit(vs, lambda d: d["compose"]["include"][0]["concept"].append({"code": "0000-0"}))
    (package / "PlanDefinition-lab.tsh.high-patient-view.json").unlink()
    zinc = {"resourceType": "PlanDefinition", "id": "lab.zinc.low-patient-view", "action": [{}]}
    (package / "PlanDefinition-lab.zinc.low-patient-view.json").write_text(json.dumps(zinc), encoding="utf-8")
    return folder


def test_each_rule_says_what_changed(previous: Path) -> None:
    """Changed wording (with the old text), added and removed codes, a new rule and a removed rule are named;
    the other rules are unchanged."""
    knowledge = load_knowledge()
    changes = compare(knowledge, service_package(knowledge), read_previous(previous))
    assert changes.version == "2026.10.0" and changes.removed == ("lab.zinc.low",)
    magnesium = changes.by_rule["lab.magnesium.low"]
    assert magnesium[0] == "card summary changed; was: Mg low"
    assert "codes removed from lab-magnesium: http://loinc.org|0000-0" in magnesium
    assert changes.by_rule["lab.tsh.high"] == ("new rule",)
    assert changes.by_rule["lab.calcium.low"] == ()
    assert any("codes removed from lab-magnesium" in line for line in changes.by_rule["workup.labs"])


def test_the_cli_writes_the_comparison_into_the_book(previous: Path, tmp_path: Path) -> None:
    """The index lists the changes per rule and the rule page says what changed since that version."""
    out = tmp_path / "now"
    _export(out, "--html", "--previous", str(previous))
    index = re.sub(r"\s+", " ", (out / "book" / "index.html").read_text(encoding="utf-8"))
    assert "Compared with version 2026.10.0" in index and "removed: lab.zinc.low" in index
    page = (out / "book" / page_name("lab.magnesium.low")).read_text(encoding="utf-8")
    assert "Since version 2026.10.0" in page and "card summary changed; was: Mg low" in page
    assert "Unchanged since version 2026.10.0" in (out / "book" / page_name("lab.potassium.low")).read_text("utf-8")


def test_comparing_an_export_with_itself_changes_nothing(tmp_path: Path) -> None:
    """--previous may be the folder being written: it is read first, and nothing has changed."""
    _export(tmp_path)
    knowledge = load_knowledge()
    changes = compare(knowledge, service_package(knowledge), read_previous(tmp_path))
    assert set(changes.by_rule.values()) == {()} and changes.removed == ()
    _export(tmp_path, "--html", "--previous", str(tmp_path))


def test_a_bad_previous_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder without an export, or --previous without --html, exits 2 with a message (no stack trace)."""
    assert main(["knowledge", "export", "--out", str(tmp_path / "o"), "--html", "--previous", str(tmp_path)]) == 2
    assert "not a knowledge export" in capsys.readouterr().err
    assert main(["knowledge", "export", "--out", str(tmp_path / "o"), "--previous", str(tmp_path)]) == 2
    assert "--previous needs --html" in capsys.readouterr().err
