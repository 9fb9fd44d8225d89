"""The FHIR NPM package: every artifact as one JSON file, with package.json and .index.json (FHIR packages page).

Built from the loaded knowledge only, so the same knowledge gives the same bytes: no clock, no random ids, file order
and key order fixed by the knowledge files.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import orjson

from service.knowledge.base import Knowledge
from service.knowledge.export import canon
from service.knowledge.export.library import LIBRARY_ID, library, override_reasons
from service.knowledge.export.plans import activity_definitions, plan_definitions
from service.knowledge.export.rule_views import rule_views
from service.knowledge.export.valuesets import value_sets

Resource = dict[str, Any]
PACKAGE_DIR = "package"
MANIFEST = "package.json"
INDEX = ".index.json"
PUBLISHER = "fasciculation-cds"


@dataclass(frozen=True)
class KnowledgePackage:
    """The package's files: name -> bytes (resources first, then package.json and .index.json)."""

    name: str
    files: Mapping[str, bytes]
    resources: Mapping[str, Resource]  # file name -> resource, for the route and the tests

    def resource_files(self) -> Iterator[str]:
        """The file names of the resources, in package order."""
        return iter(self.resources)


def _bytes(document: Mapping[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def package_name(knowledge: Knowledge) -> str:
    """The package name: the canonical host reversed, then ``knowledge`` (org.example.fasciculation-cds.knowledge)."""
    host = urlsplit(canon.canonical_base(knowledge)).hostname or "local"
    return ".".join([*reversed(host.split(".")), "knowledge"]).lower()


def _resources(knowledge: Knowledge, service_ids: Mapping[str, str]) -> list[Resource]:
    status = "active" if knowledge.approved() else "draft"  # active once reviews.yaml records an approval of all rules
    common = {"base": canon.canonical_base(knowledge), "status": status, "publisher": PUBLISHER, "library": LIBRARY_ID}
    views = rule_views(knowledge)
    members = [
        *value_sets(knowledge, common),
        override_reasons(knowledge, common),
        *activity_definitions(views, knowledge, common),
        *plan_definitions(views, service_ids, knowledge, common),
    ]
    return [library(knowledge, common, members), *members]


def _manifest(knowledge: Knowledge, name: str) -> Resource:
    return {
        "name": name,
        "version": knowledge.version,
        "canonical": canon.canonical_base(knowledge),
        "title": "Fasciculation CDS knowledge",
        "description": "The fasciculation screen's knowledge as FHIR R4 artifacts (generated; do not edit by hand).",
        "fhirVersions": [canon.FHIR_VERSION],
        "type": "fhir.ig",
        "dependencies": {"hl7.fhir.r4.core": canon.FHIR_VERSION},
        "author": PUBLISHER,
        "license": "Apache-2.0",
    }


def _index(resources: Mapping[str, Resource]) -> Resource:
    files = [
        {"filename": name, "resourceType": r["resourceType"], "id": r["id"], "url": r["url"], "version": r["version"]}
        for name, r in resources.items()
    ]
    return {"index-version": 1, "files": files}


@functools.cache
def build_package(knowledge: Knowledge, service_ids: tuple[tuple[str, str], ...]) -> KnowledgePackage:
    """The package of this knowledge (cached per knowledge: it is immutable); ``service_ids``: (hook, id) pairs."""
    by_file = {canon.file_name(r["resourceType"], r["id"]): r for r in _resources(knowledge, dict(service_ids))}
    name = package_name(knowledge)
    files = {file: _bytes(r) for file, r in by_file.items()}
    files[MANIFEST] = _bytes(_manifest(knowledge, name))
    files[INDEX] = _bytes(_index(by_file))
    return KnowledgePackage(name, MappingProxyType(files), MappingProxyType(by_file))


def write_package(package: KnowledgePackage, out: Path) -> Path:
    """Write the package under ``out/package/`` (JSON files of an earlier export there are replaced); its folder."""
    folder = out / PACKAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.json"):
        if stale.name not in package.files:
            stale.unlink()
    for name, content in package.files.items():
        (folder / name).write_bytes(content)
    return folder
