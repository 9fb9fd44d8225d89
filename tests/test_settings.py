"""Settings declared once: typed, bounded, one line per bad value, and the README's table in step with the models."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields
from typing import Any

import pytest

from cds_hooks import FhirClientSettings
from service.config import Settings, environment_names, load_settings, variable_names
from service.settings_types import SettingsError
from service.workup.config import WorkupSettings, load_workup_settings, workup_variable_names
from tests.conftest import ROOT

BAD = [
    ("CDS_WORKUP_LINKS", "ture", "true/false, 1/0 or yes/no"),
    ("CDS_DISCOVERY_REQUIRES_AUTH", "on", "true/false, 1/0 or yes/no"),
    ("CDS_FHIR_MAX_PAGES", "-1", "greater than or equal to 1"),
    ("CDS_FHIR_READ_TIMEOUT_S", "abc", "valid number"),
    ("CDS_FHIR_CONNECT_TIMEOUT_S", "0", "greater than 0"),
    ("CDS_DATABASE_URL", "foo://user:secret@bar", "sqlite:///"),
    ("CDS_CARD_QUEUE_MAX", "many", "valid integer"),
    ("CDS_DRAIN_SECONDS", "-5", "greater than or equal to 0"),
    ("CDS_LOG_FORMAT", "xml", "'text' or 'json'"),
    ("CDS_LOG_LEVEL", "loud", "DEBUG, INFO"),
    ("CDS_MAX_BODY_BYTES", "12", "greater than or equal to 1024"),
    ("CDS_WORKUP_WINDOW_DAYS", "two years", "valid integer"),
    ("CDS_WORKUP_SESSION_TTL_S", "5", "greater than or equal to 60"),
    ("CDS_TIMEZONE", "Mars/Olympus_Mons", "IANA time zone"),
]


def _load(environ: dict[str, str]) -> tuple[Settings, WorkupSettings]:
    return load_settings(environ), load_workup_settings(environ)


@pytest.mark.parametrize(("name", "value", "allowed"), BAD)
def test_a_bad_value_is_one_line_naming_the_variable_and_what_is_allowed(name: str, value: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as refused:
        _load({name: value})
    message = str(refused.value)
    assert message.startswith(f"{name} is not valid: ") and allowed in message
    assert "\n" not in message and "secret" not in message  # a value may be a secret: never repeated


@pytest.mark.parametrize(("word", "meaning"), [("true", True), ("YES", True), ("1", True), ("no", False), ("0", False)])
def test_booleans_accept_true_false_one_zero_yes_no(word: str, meaning: bool) -> None:
    settings, workup = _load({"CDS_DISCOVERY_REQUIRES_AUTH": word, "CDS_WORKUP_LINKS": word})
    assert settings.discovery_requires_auth is meaning and workup.links is meaning


def test_values_are_typed_and_defaults_come_from_the_toolkit() -> None:
    settings = load_settings({"CDS_FHIR_MAX_PAGES": "3", "CDS_DRAIN_SECONDS": "0", "CDS_LOG_LEVEL": "debug"})
    assert (settings.fhir_max_pages, settings.drain_seconds, settings.log_level) == (3, 0.0, "DEBUG")
    toolkit, defaults = FhirClientSettings(), Settings()
    assert (defaults.fhir_connect_timeout_s, defaults.fhir_read_timeout_s) == (
        toolkit.connect_timeout_s,
        toolkit.read_timeout_s,
    )
    assert (defaults.fhir_max_pages, defaults.fhir_total_timeout_s) == (toolkit.max_pages, toolkit.total_timeout_s)


def test_a_bad_override_is_refused_too() -> None:
    with pytest.raises(SettingsError, match="CDS_FHIR_MAX_PAGES"):
        load_settings({}, {"fhir_max_pages": 0})


@pytest.mark.parametrize(
    "command", [["serve", "--port", "1"], ["evaluate", "--fhir-server", "http://x", "--patient", "p"]]
)
def test_a_real_process_refuses_to_start_with_one_line(command: list[str]) -> None:
    environ = {"PATH": "/usr/bin:/bin", "CDS_DATABASE_URL": "foo://bar", "CDS_WORKUP_LINKS": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", *command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=environ,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: CDS_DATABASE_URL is not valid: must be sqlite:///<file> or postgresql+psycopg://user@host:5432/db"
    ]


def _readme_rows() -> list[tuple[list[str], list[str]]]:
    text = (ROOT / "README.md").read_text()
    table = text.split("\n## Configuration\n", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        names = re.findall(r"`(CDS_[A-Z0-9_]+)`", cells[0]) if len(cells) >= 3 else []
        if names:
            rows.append((names, re.findall(r"`([^`]+)`", cells[1])))
    return rows


def test_the_readme_table_lists_exactly_the_settings() -> None:
    documented = {name for names, _ in _readme_rows() for name in names}
    assert documented == environment_names() - {"PROMETHEUS_MULTIPROC_DIR"}


def test_the_readme_defaults_are_the_models_defaults() -> None:
    defaults: dict[str, Any] = {}
    for model, names in ((Settings, variable_names()), (WorkupSettings, workup_variable_names())):
        defaults |= {names[item.name]: item.default for item in fields(model)}
    checked = 0
    for names, shown in _readme_rows():
        for name, text in zip(names, shown, strict=False):
            default = defaults[name]
            if isinstance(default, bool):
                assert text == str(default).lower(), name
            elif isinstance(default, int | float):
                assert float(text) == default, name
            else:
                continue
            checked += 1
    assert checked >= 12
