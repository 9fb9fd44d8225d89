"""The Library that carries the knowledge version and every citation, and the CodeSystem of the override reasons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.knowledge.base import Knowledge
from service.knowledge.export import canon

Resource = dict[str, Any]
LIBRARY_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/library-type"
LIBRARY_ID = "fasciculation-cds-knowledge"
OVERRIDE_REASONS_ID = "override-reason"


def override_reasons(knowledge: Knowledge, common: Mapping[str, Any]) -> Resource:
    """The override reasons every card offers, as a complete CodeSystem at the system URI the cards use."""
    cards = knowledge.cards
    return {
        "resourceType": "CodeSystem",
        "id": OVERRIDE_REASONS_ID,
        "url": cards.override_reason_system,
        "version": knowledge.version,
        "name": "OverrideReason",
        "title": "Why a clinician overrode a fasciculation-screen card",
        "status": common["status"],
        "publisher": common["publisher"],
        "description": "The override reasons offered on every card of the fasciculation screen (cards.yaml).",
        "caseSensitive": True,
        "content": "complete",
        "count": len(cards.override_reasons),
        "concept": [{"code": reason.code, "display": reason.display} for reason in cards.override_reasons],
    }


def library(knowledge: Knowledge, common: Mapping[str, Any], members: Iterable[Resource]) -> Resource:
    """The knowledge base as one versioned Library: its citations, and the artifacts it is composed of."""
    citations = [
        {
            "type": "citation",
            "label": c.id,
            "display": c.title,
            "citation": f"{c.title}. Accessed {c.accessed.isoformat()} (checked via {c.via}).",
            "url": c.url,
        }
        for c in knowledge.citations.values()
    ]
    parts = [
        {"type": "composed-of", "display": m.get("title", m["id"]), "resource": f"{m['url']}|{m['version']}"}
        for m in members
    ]
    return {
        "resourceType": "Library",
        "id": LIBRARY_ID,
        "url": f"{common['base']}/Library/{LIBRARY_ID}",
        "version": knowledge.version,
        "name": canon.computable_name(LIBRARY_ID),
        "title": "Fasciculation CDS knowledge base",
        "status": common["status"],
        "publisher": common["publisher"],
        "type": {
            "coding": [{"system": LIBRARY_TYPE_SYSTEM, "code": "asset-collection", "display": "Asset Collection"}]
        },
        "description": (
            "Code sets, thresholds, card wording and sources of the fasciculation reversible-cause screen, generated "
            "from its validated knowledge files; every citation a rule rests on is a related artifact."
        ),
        "relatedArtifact": [*citations, *parts],
    }
