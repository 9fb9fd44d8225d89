"""CDS service definitions and the registry that dispatches calls and writes the discovery document."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_hooks.cards import HookResponse
from cds_hooks.errors import BadRequest, NotFound
from cds_hooks.fhir_client import PagesEnough
from cds_hooks.prefetch import check_template
from cds_hooks.response import check_discovery
from cds_hooks.schemas import HookRequest

# The CDS Hooks release the toolkit implements, advertised per service as 3.0 recommends (discovery ``version``,
# "the semantic version of the CDS Hooks specification implemented by this service"); 2.0 clients ignore it.
CDS_HOOKS_VERSION = "2.0.0"
Prefetched = Mapping[str, Any | None]
# A handler answers with the card model; a plain JSON document is checked against the model's schema.
Answer = HookResponse | Mapping[str, Any]
Handler = Callable[[HookRequest, Prefetched], Answer]


@dataclass(frozen=True)
class ServiceDefinition:
    """One CDS service: what discovery says about it, and the function that answers its hook."""

    id: str
    hook: str
    title: str
    description: str
    handler: Handler = field(repr=False)
    prefetch: Mapping[str, str] = field(default_factory=dict)
    usage_requirements: str | None = None
    # Per prefetch key, when paging the FHIR fall-back may stop early (see PrefetchResolver); never in discovery.
    pages_enough: Mapping[str, PagesEnough] = field(default_factory=dict, repr=False)
    # Prefetch keys the service can answer without: when the client did not send one and it cannot be fetched (no
    # fhirServer, or the server fails), the call goes on without it (logged) instead of failing with 412.
    optional_prefetch: frozenset[str] = frozenset()
    # Discovery's `extension` object (CDS Hooks 2.0 §Extensions: reverse-DNS keys; clients ignore unknown ones).
    extension: Mapping[str, Any] = field(default_factory=dict)

    def discovery_entry(self) -> dict[str, Any]:
        """This service as an element of ``services`` (optional fields omitted when empty)."""
        entry: dict[str, Any] = {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "version": CDS_HOOKS_VERSION,
        }
        if self.prefetch:
            entry["prefetch"] = dict(self.prefetch)
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        if self.extension:
            entry["extension"] = dict(self.extension)
        return entry


class ServiceRegistry:
    """The services an app offers, keyed by id: one id, one discovery entry, one hook.

    CDS Hooks 2.0 addresses a service as ``{baseUrl}/cds-services/{id}`` and its discovery entry names one
    ``hook``; clients key services by id (the CDS Hooks Sandbox by ``discoveryURL/id``), so two entries sharing an
    id collapse into one in the client. A duplicate id is therefore refused at start-up.
    """

    def __init__(self, definitions: Iterable[ServiceDefinition]) -> None:
        self._by_id: dict[str, ServiceDefinition] = {}
        for definition in definitions:
            for template in definition.prefetch.values():
                check_template(template)
            earlier = self._by_id.get(definition.id)
            if earlier is not None:
                raise ValueError(
                    f"service id {definition.id!r} declared twice ({earlier.hook}, {definition.hook}): "
                    "give each hook its own id"
                )
            self._by_id[definition.id] = definition
        self._discovery = {"services": [d.discovery_entry() for d in self._by_id.values()]}
        check_discovery(self._discovery)

    @property
    def definitions(self) -> list[ServiceDefinition]:
        """Every definition, in declaration order."""
        return list(self._by_id.values())

    def discovery_document(self) -> dict[str, Any]:
        """The body of ``GET /cds-services`` (built and checked once)."""
        return self._discovery

    def get(self, service_id: str) -> ServiceDefinition:
        """The service with this id; NotFound when the id is unknown."""
        definition = self._by_id.get(service_id)
        if definition is None:
            raise NotFound(f"no CDS service with id {service_id!r}")
        return definition

    def find(self, service_id: str, hook: str) -> ServiceDefinition:
        """The service ``service_id`` when it answers ``hook`` (NotFound / BadRequest otherwise)."""
        definition = self.get(service_id)
        if definition.hook != hook:
            raise BadRequest("hook not served", {"hook": [f"service {service_id} does not answer {hook}"]})
        return definition
