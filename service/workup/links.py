"""Card links to the work-up view: every card gets a ``smart`` link whose ``appContext`` names its finding."""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Iterable
from typing import Any

from cds_hooks import Card, HookRequest, HookResponse, Link, LinkType, Prefetched, ServiceDefinition, as_response
from cds_hooks.definitions import Handler
from service.cards import provenance
from service.config import Settings
from service.workup.config import WorkupSettings

LINK_LABEL = "Open the work-up view: lab trends, drugs and checklist"
# Outside a request (the CLI) and without CDS_PUBLIC_URL, links point at the default `serve` address.
DEFAULT_BASE_URL = "http://127.0.0.1:8080"


def launch_url(public_url: str | None) -> str:
    """The app's launch URL: under CDS_PUBLIC_URL, else the request's own base URL, else the default address."""
    base = public_url or _request_base() or DEFAULT_BASE_URL
    return f"{base.rstrip('/')}/workup/launch"


def _request_base() -> str | None:
    """The current request's base URL; None outside one (without Flask loaded, as in the CLI, there is none)."""
    if "flask" not in sys.modules:
        return None
    from flask import has_request_context, request

    return request.host_url if has_request_context() else None


@functools.lru_cache(maxsize=256)
def smart_link(rule_id: str, url: str) -> Link:
    """One card link that launches the SMART app with the finding as its appContext (built and checked once)."""
    return Link(label=LINK_LABEL, url=url, type=LinkType.SMART, app_context=f"finding={rule_id}")


def with_link(card: Card, url: str) -> Card:
    """The card with the work-up link appended, when it names its rule (else the card as it is)."""
    tag = provenance(card)
    if tag is None:
        return card
    return card.evolve(links=(*(card.links or ()), smart_link(tag.rule_id, url)))


def add_links(cards: Iterable[Card], url: str) -> list[Card]:
    """The cards, each with the work-up link when it names its rule."""
    return [with_link(card, url) for card in cards]


def _linking(handler: Handler, public_url: str | None) -> Any:
    def handle(hook_request: HookRequest, prefetched: Prefetched) -> HookResponse:
        response = as_response(handler(hook_request, prefetched))
        return response.evolve(cards=tuple(add_links(response.cards, launch_url(public_url))))

    return handle


def with_workup_links(definitions: Iterable[ServiceDefinition], public_url: str | None) -> list[ServiceDefinition]:
    """The same services, whose cards carry the work-up link."""
    return [dataclasses.replace(d, handler=_linking(d.handler, public_url)) for d in definitions]


def linked_definitions(
    definitions: Iterable[ServiceDefinition], settings: Settings, workup: WorkupSettings
) -> list[ServiceDefinition]:
    """The services, with the work-up link on every card unless CDS_WORKUP_LINKS is off."""
    return with_workup_links(definitions, settings.public_url) if workup.links else list(definitions)
