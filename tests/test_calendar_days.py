"""Relative dates by calendar day in CDS_TIMEZONE (issue 22): "today" means the same date, not "within 24 h".

Through the real app (CDS_TIMEZONE as a setting), ``evaluate`` (the environment variable) and the formatter itself.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from service import create_app
from service.cli import main
from service.hooks import SERVICE_IDS
from service.rules.text import age
from tests.conftest import NOW, REQUESTS, AppFactory

BASE: dict[str, Any] = json.loads((REQUESTS / "patient-view" / "magnesium_first.json").read_text("utf-8"))
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        ("2026-11-20T11:30:00+00:00", "just now"),
        ("2026-11-20T00:05:00+00:00", "today"),
        ("2026-11-19T14:00:00+00:00", "yesterday"),  # 22 h ago, but another day: not "today"
        ("2026-11-18T23:59:00+00:00", "2 days ago"),
        ("2026-10-02T12:00:00+00:00", "49 days ago"),
    ],
)
def test_ages_count_calendar_days(moment: str, shown: str) -> None:
    assert age(at(moment), NOW) == shown


def test_the_zone_of_now_decides_the_calendar() -> None:
    new_york = NOW.astimezone(dt.timezone(dt.timedelta(hours=-5)))  # 07:00 local on 2026-11-20
    assert age(at("2026-11-20T02:00:00+00:00"), NOW) == "today"
    assert age(at("2026-11-20T02:00:00+00:00"), new_york) == "yesterday"  # 21:00 local on 2026-11-19


def drawn_at(moment: str) -> dict[str, Any]:
    """magnesium_first with its magnesium drawn at ``moment``."""
    body = copy.deepcopy(BASE)
    for entry in body["prefetch"]["labs"]["entry"]:
        if entry["resource"]["code"]["coding"][0]["code"] == "19123-9":
            entry["resource"]["effectiveDateTime"] = moment
    return body


@pytest.mark.parametrize(("zone", "shown"), [("UTC", "today"), ("America/New_York", "yesterday")])
def test_the_app_counts_days_in_cds_timezone(app_factory: AppFactory, zone: str, shown: str) -> None:
    client = app_factory(timezone=zone).test_client()
    body = drawn_at("2026-11-20T02:00:00Z")
    cards = client.post(f"/cds-services/{SERVICE_IDS['patient-view']}", json=body).get_json()["cards"]
    assert cards[0]["summary"].startswith(f"Magnesium low (1.1 mg/dL, {shown})")


def test_evaluate_reads_cds_timezone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = drawn_at("2026-11-20T02:00:00Z")
    entries = [e for v in body["prefetch"].values() if v for e in (v.get("entry") or [{"resource": v}])]
    path = tmp_path / "patient.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), "utf-8")
    monkeypatch.setenv("CDS_TIMEZONE", "America/New_York")
    assert main(["evaluate", "--bundle", str(path), "--now", NOW.isoformat()]) == 0
    assert "Magnesium low (1.1 mg/dL, yesterday)" in capsys.readouterr().out


def test_an_unknown_zone_refuses_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CDS_TIMEZONE 'Mars/Olympus' is not an IANA time zone"):
        create_app({"timezone": "Mars/Olympus", "database_url": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
