"""CDS service definitions and the registry that dispatches calls and writes the discovery document."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_hooks.errors import BadRequest, NotFound
from cds_hooks.prefetch import check_template
from cds_hooks.response import check_discovery
from cds_hooks.schemas import HookRequest

Prefetched = Mapping[str, Any | None]
Handler = Callable[[HookRequest, Prefetched], dict[str, Any]]


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

    def discovery_entry(self) -> dict[str, Any]:
        """This service as an element of ``services`` (optional fields omitted when empty)."""
        entry: dict[str, Any] = {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
        }
        if self.prefetch:
            entry["prefetch"] = dict(self.prefetch)
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        return entry


class ServiceRegistry:
    """The services an app offers, keyed by (id, hook); one id may serve several hooks."""

    def __init__(self, definitions: Iterable[ServiceDefinition]) -> None:
        self._by_key: dict[tuple[str, str], ServiceDefinition] = {}
        for definition in definitions:
            for template in definition.prefetch.values():
                check_template(template)
            key = (definition.id, definition.hook)
            if key in self._by_key:
                raise ValueError(f"service {definition.id} declared twice for {definition.hook}")
            self._by_key[key] = definition
        self._discovery = {"services": [d.discovery_entry() for d in self._by_key.values()]}
        check_discovery(self._discovery)

    @property
    def definitions(self) -> list[ServiceDefinition]:
        """Every definition, in declaration order."""
        return list(self._by_key.values())

    def discovery_document(self) -> dict[str, Any]:
        """The body of ``GET /cds-services`` (built and checked once)."""
        return self._discovery

    def hooks_for(self, service_id: str) -> frozenset[str]:
        """Hooks served under ``service_id``; NotFound when the id is unknown."""
        hooks = frozenset(hook for (sid, hook) in self._by_key if sid == service_id)
        if not hooks:
            raise NotFound(f"no CDS service with id {service_id!r}")
        return hooks

    def find(self, service_id: str, hook: str) -> ServiceDefinition:
        """The definition answering ``hook`` under ``service_id``."""
        definition = self._by_key.get((service_id, hook))
        if definition is None:
            self.hooks_for(service_id)
            raise BadRequest("hook not served", {"hook": [f"service {service_id} does not answer {hook}"]})
        return definition
