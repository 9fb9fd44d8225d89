"""The markers tests/markers.py applies select exactly what depends on each tool (what .ci/run's second pass reruns).

One collection-only subprocess lists every test of the files below with its markers (tests/marker_listing.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.marker_listing import PREFIX

PATHS = (
    "tests/store/test_report.py",
    "tests/engine/test_engine_links.py",
    "tests/workup/test_launch_errors.py",
    "tests/workup/test_browser_launch.py",
    "tests/cohort/test_cohort_export_auth.py",
    "tests/bench/test_bench_smoke.py",
    "tests/toolkit/test_registry.py",
    "tests/knowledge_export/test_package.py",
    "tests/test_serve.py",
    "tests/faults/test_drain.py",
    "tests/faults/test_input_bounds.py",
)


@pytest.fixture(scope="module")
def markers() -> dict[str, set[str]]:
    """Test id -> its markers, for every test in PATHS."""
    options = ["-o", "addopts=", "--strict-markers", "--collect-only", "-q", "-p", "no:cacheprovider"]
    command = [sys.executable, "-m", "pytest", *options, "-p", "tests.marker_listing", *PATHS]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [json.loads(line.removeprefix(PREFIX)) for line in done.stdout.splitlines() if line.startswith(PREFIX)]
    return {row["id"]: set(row["markers"]) for row in rows}


def _in(markers: dict[str, set[str]], path: str, marker: str) -> set[str]:
    return {test for test, marks in markers.items() if test.startswith(path) and marker in marks}


def _all(markers: dict[str, set[str]], path: str) -> set[str]:
    return {test for test in markers if test.startswith(path)}


def test_postgres_marks_only_the_postgresql_case_of_the_store_fixture(markers: dict[str, set[str]]) -> None:
    """A store test runs on both backends; only its postgresql case needs the server at CDS_TEST_PG_URL."""
    report = "tests/store/test_report.py"
    assert _in(markers, report, "postgres") == {t for t in _all(markers, report) if "[postgresql]" in t} != set()


def test_engine_follows_the_fixtures_and_helpers_that_start_it(markers: dict[str, set[str]]) -> None:
    """Engine-backed tests in and outside tests/engine are marked; the pure same-server rule beside them is not."""
    links = "tests/engine/test_engine_links.py"
    assert _in(markers, links, "engine") == {t for t in _all(markers, links) if "test_same_server_rule" not in t}
    for path in ("tests/workup/test_launch_errors.py", "tests/cohort/test_cohort_export_auth.py"):
        assert _in(markers, path, "engine") == _all(markers, path) != set()  # the rig fixture; start_engine
    bench = {t.split("::")[1] for t in _in(markers, "tests/bench/test_bench_smoke.py", "engine")}
    assert bench == {"test_cli_prints_floor_ratios_and_fallback"}
    for path in ("tests/toolkit/test_registry.py", "tests/knowledge_export/test_package.py"):
        assert _all(markers, path) and not _in(markers, path, "engine")


def test_serve_and_browser(markers: dict[str, set[str]]) -> None:
    """Subprocess servers (tests/serving.py, the fault harness) are `serve`; Selenium tests are `browser`."""
    for path in ("tests/test_serve.py", "tests/faults/test_drain.py"):
        assert _in(markers, path, "serve") == _all(markers, path) != set()
    assert _all(markers, "tests/faults/test_input_bounds.py")
    assert not _in(markers, "tests/faults/test_input_bounds.py", "serve")  # imports a helper from the harness only
    browser = "tests/workup/test_browser_launch.py"
    assert _in(markers, browser, "browser") == _all(markers, browser) != set()
    assert not _in(markers, "tests/workup/test_launch_errors.py", "browser")
