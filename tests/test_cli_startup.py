"""``evaluate`` imports only what it needs: no web framework, database, JWT or cohort engine (issue 27, start-up).

Structural, not a timing test: a fresh interpreter evaluates a bundle through ``service.cli.main`` and reports which
heavy packages ended up in ``sys.modules``. ``bench/cli_startup.py`` measures the time itself.
"""

from __future__ import annotations

import json
import subprocess
import sys

import cds_hooks
import service
from tests.conftest import ROOT

PATIENT = str(ROOT / "fixtures" / "patients" / "advair_fasciculation.json")
# Serving (Flask/Werkzeug/Jinja), the store (SQLAlchemy), tokens (PyJWT/cryptography), the work-up charts (pygal),
# the cohort engines (DuckDB, PySpark): none of them is needed to print one patient's cards.
HEAVY = ("flask", "werkzeug", "jinja2", "sqlalchemy", "jwt", "cryptography", "pygal", "duckdb", "pyspark")
_PROBE = """
import contextlib, io, json, sys
from service.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
print(json.dumps({{"code": code, "cards": json.loads(out.getvalue())["cards"], "heavy": heavy}}))
"""


def _evaluate_in_fresh_interpreter(*args: str) -> dict[str, object]:
    probe = _PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", probe, "evaluate", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_evaluate_of_a_bundle_leaves_the_heavy_modules_unimported() -> None:
    result = _evaluate_in_fresh_interpreter("--bundle", PATIENT, "--now", "2026-11-20T12:00Z")
    assert result["code"] == 0
    assert result["cards"], "the probe must really have evaluated the patient"
    assert result["heavy"] == []


def test_the_lazy_names_still_import_as_before() -> None:
    for name in cds_hooks.__all__:
        assert getattr(cds_hooks, name) is not None
        assert name in dir(cds_hooks)
    from service import CARD_WRITER_KEY, CLOSERS_KEY, STORE_KEY, app, close_app, create_app

    assert (create_app, close_app) == (app.create_app, app.close_app)
    assert (CARD_WRITER_KEY, CLOSERS_KEY, STORE_KEY) == (app.CARD_WRITER_KEY, app.CLOSERS_KEY, app.STORE_KEY)


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    for module in (cds_hooks, service):
        try:
            module.no_such_name  # noqa: B018
        except AttributeError as exc:
            assert "no_such_name" in str(exc)
        else:
            raise AssertionError(f"{module.__name__}.no_such_name resolved")
