"""What ``fhirAuthorization.scope`` lets the service read, in SMART v1 and v2 syntax alike.

SMART App Launch 1.0 writes ``patient/Observation.read`` (``read``, ``write`` or ``*``); SMART 2.0, which the CDS
Hooks 3.0 ballot points to, writes ``patient/Observation.rs`` (permissions from ``cruds``, in that order), possibly
narrowed by a query (``patient/Observation.rs?category=laboratory``). A FHIR read (``Type/id``) needs ``read`` or
``r``; a search needs ``read`` or ``s``. Scopes that are not resource scopes (``launch``, ``openid``, ``fhirUser``)
say nothing here. When the scope string holds no resource scope this module can read, it does not judge: the FHIR
server decides, as before. Only a token whose resource scopes clearly leave a type out is refused up front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

_SCOPE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]{0,63})"
    r"\.(?:(?P<v1>read|write|\*)|(?P<v2>c?r?u?d?s?))(?P<query>\?\S*)?$"
)


class Interaction(StrEnum):
    """The two ways the service reads a FHIR server."""

    READ = "read"
    SEARCH = "search"


@dataclass(frozen=True)
class ResourceScope:
    """One resource scope: its context, resource type (or ``*``) and whether it allows reading and searching."""

    context: str
    resource_type: str
    read: bool
    search: bool
    narrowed: bool  # a SMART v2 query restricts it to some of the type's resources

    def allows(self, resource_type: str, interaction: Interaction) -> bool:
        """Whether this scope covers ``interaction`` on ``resource_type``."""
        if self.resource_type not in ("*", resource_type):
            return False
        return self.read if interaction is Interaction.READ else self.search


def _parse_one(text: str) -> ResourceScope | None:
    match = _SCOPE.match(text)
    if match is None or (match["v1"] is None and not match["v2"]):
        return None
    if match["v1"] is not None:
        read = search = match["v1"] in ("read", "*")
    else:
        read, search = "r" in match["v2"], "s" in match["v2"]
    return ResourceScope(match["context"], match["type"], read, search, bool(match["query"]))


def parse_scopes(scope: str) -> tuple[ResourceScope, ...]:
    """The resource scopes in a space-separated scope string (others are skipped)."""
    parsed = (_parse_one(item) for item in scope.split())
    return tuple(item for item in parsed if item is not None)


def wanted(url: str) -> tuple[str, Interaction] | None:
    """The resource type and interaction of a relative FHIR query (``Patient/1``, ``Observation?...``)."""
    path = urlsplit(url).path.strip("/")
    segments = path.split("/") if path else []
    if not segments or not re.fullmatch(r"[A-Z][A-Za-z]{0,63}", segments[0]):
        return None
    return segments[0], Interaction.READ if len(segments) == 2 else Interaction.SEARCH


def scope_refusal(scope: str | None, url: str) -> str | None:
    """Why the token's scope does not allow the query ``url``; None when it does or cannot be judged."""
    scopes = parse_scopes(scope or "")
    target = wanted(url)
    if not scopes or target is None:
        return None
    resource_type, interaction = target
    if any(item.allows(resource_type, interaction) for item in scopes):
        return None
    return f"the token's scope grants no {interaction} of {resource_type}"
