"""The markers tests/markers.py applies select exactly what depends on each tool (what .ci/run's second pass reruns)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def _selected(marker: str, *paths: str) -> set[str]:
    """The test ids ``-m marker`` selects among ``paths`` (collection only)."""
    options = ["-o", "addopts=", "--strict-markers", "--collect-only", "-q", "-p", "no:cacheprovider"]
    command = [sys.executable, "-m", "pytest", *options, "-m", marker, *paths]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: nothing selected
    return {line for line in done.stdout.splitlines() if "::" in line}


def test_postgres_marks_only_the_postgresql_case_of_the_store_fixture() -> None:
    """A store test runs on both backends; only its postgresql case needs the server at CDS_TEST_PG_URL."""
    selected = _selected("postgres", "tests/store/test_report.py")
    assert selected and all("[postgresql]" in test for test in selected)
    assert not {t for t in _selected("not postgres", "tests/store/test_report.py") if "[postgresql]" in t}


def test_engine_follows_the_fixtures_and_helpers_that_start_it() -> None:
    """Engine-backed tests in and outside tests/engine are marked; the pure same-server rule beside them is not."""
    links = _selected("engine", "tests/engine/test_engine_links.py")
    assert links and not any("test_same_server_rule" in test for test in links)
    assert _selected("engine", "tests/workup/test_launch_errors.py")  # through the workup conftest's rig fixture
    assert _selected("engine", "tests/cohort/test_cohort_export_auth.py")  # start_engine called in the module
    assert {t.split("::")[1] for t in _selected("engine", "tests/bench/test_bench_smoke.py")} == {
        "test_cli_prints_floor_ratios_and_fallback"
    }
    assert not _selected("engine", "tests/toolkit/test_registry.py", "tests/knowledge_export/test_package.py")


def test_serve_and_browser() -> None:
    """Subprocess servers (tests/serving.py, the fault harness) are `serve`; Selenium tests are `browser`."""
    assert _selected("serve", "tests/test_serve.py") and _selected("serve", "tests/faults/test_drain.py")
    assert not _selected("serve", "tests/faults/test_input_bounds.py")  # imports a helper from the harness only
    assert _selected("browser", "tests/workup/test_browser_launch.py")
    assert not _selected("browser", "tests/workup/test_launch_errors.py")
