"""Card links to the work-up view: every card gets a ``smart`` link whose ``appContext`` names its finding."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from flask import has_request_context, request

from cds_hooks import HookRequest, Prefetched, ServiceDefinition
from service.cards import CARD_EXTENSION

LINK_LABEL = "Open the work-up view: lab trends, drugs and checklist"
# Outside a request (the CLI) and without CDS_PUBLIC_URL, links point at the default `serve` address.
DEFAULT_BASE_URL = "http://127.0.0.1:8080"


def launch_url(public_url: str | None) -> str:
    """The app's launch URL: under CDS_PUBLIC_URL, else the request's own base URL, else the default address."""
    base = public_url or (request.host_url if has_request_context() else DEFAULT_BASE_URL)
    return f"{base.rstrip('/')}/workup/launch"


def smart_link(rule_id: str, url: str) -> dict[str, str]:
    """One card link that launches the SMART app with the finding as its appContext."""
    return {"label": LINK_LABEL, "url": url, "type": "smart", "appContext": f"finding={rule_id}"}


def add_links(cards: Iterable[dict[str, Any]], url: str) -> None:
    """Append the work-up link to every card that names its rule (in place)."""
    for card in cards:
        rule_id = card.get("extension", {}).get(CARD_EXTENSION, {}).get("ruleId")
        if isinstance(rule_id, str):
            card["links"] = [*card.get("links", []), smart_link(rule_id, url)]


def _linking(handler: Callable[[HookRequest, Prefetched], dict[str, Any]], public_url: str | None) -> Any:
    def handle(hook_request: HookRequest, prefetched: Prefetched) -> dict[str, Any]:
        document = handler(hook_request, prefetched)
        add_links(document.get("cards") or [], launch_url(public_url))
        return document

    return handle


def with_workup_links(definitions: Iterable[ServiceDefinition], public_url: str | None) -> list[ServiceDefinition]:
    """The same services, whose cards carry the work-up link."""
    return [dataclasses.replace(d, handler=_linking(d.handler, public_url)) for d in definitions]
