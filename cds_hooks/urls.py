"""URL rules for FHIR servers: the allow-list, loopback hosts, and whether a link stays on the same server."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

# Default ports of databases, caches and brokers often run beside a service (IANA Service Name and Transport Protocol
# Port Number Registry; NATS 4222 and Elasticsearch 9200 are their projects' defaults): never a FHIR server.
WELL_KNOWN_BACKEND_PORTS = frozenset(
    {
        1433,  # Microsoft SQL Server
        1521,  # Oracle
        1883,  # MQTT
        2379,  # etcd
        3306,  # MySQL / MariaDB
        4222,  # NATS
        5432,  # PostgreSQL
        5672,  # AMQP (RabbitMQ)
        5984,  # CouchDB
        6379,  # Redis
        8883,  # MQTT over TLS
        9042,  # Cassandra
        9092,  # Kafka
        9200,  # Elasticsearch
        11211,  # memcached
        27017,  # MongoDB
    }
)


@dataclass(frozen=True)
class ServerAllowList:
    """FHIR base URLs the service may contact; ``None`` entries means any server is allowed.

    ``loopback_guard`` (the development default, issue 23 row 9): loopback targets on ``refused_ports`` or on the
    service's own port are refused, so the fall-back can neither call the service itself nor its database.
    """

    entries: tuple[str, ...] | None
    loopback_guard: bool = False
    refused_ports: frozenset[int] = WELL_KNOWN_BACKEND_PORTS

    @classmethod
    def parse(cls, text: str | None) -> ServerAllowList:
        """Build from a comma-separated list; ``*`` allows any server, empty allows none."""
        if text is None or text.strip() == "*":
            return cls(None)
        return cls(tuple(e.strip().rstrip("/") for e in text.split(",") if e.strip()))

    def guarding_loopback(self) -> ServerAllowList:
        """The same list, refusing loopback targets on well-known backend ports and on the service's own port."""
        return replace(self, loopback_guard=True)

    def permits(self, base_url: str, own_port: int | None = None) -> bool:
        """True when ``base_url`` is an allowed server: same scheme and host, allowed port, path at or below."""
        url = _url_parts(base_url)
        if self.loopback_guard and (url is None or self._guarded(url, own_port)):
            return False
        if self.entries is None:
            return True
        return url is not None and any(_entry_covers(e, url) for e in self.entries)

    def _guarded(self, url: _UrlParts, own_port: int | None) -> bool:
        """A loopback target on a refused port or on the service's own port."""
        port = url[2] if url[2] is not None else _DEFAULT_PORTS[url[0]]
        return is_loopback_host(url[1]) and (port in self.refused_ports or port == own_port)


_DEFAULT_PORTS = {"http": 80, "https": 443}
_UrlParts = tuple[str, str, int | None, str]


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1); never for names like 127.0.0.1.evil.com."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_parts(url: str) -> _UrlParts | None:
    """(scheme, host, port, path) of a plain http(s) URL; None for anything odd (userinfo, dot segments, ...)."""
    if any(c.isspace() or c in "\\@" or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url.rstrip("/"))
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host or parts.query or parts.fragment:
        return None
    segments = unquote(parts.path).split("/")
    if "." in segments or ".." in segments:
        return None
    return scheme, host, port, parts.path.rstrip("/")


def _entry_covers(entry: str, url: _UrlParts) -> bool:
    allowed = _url_parts(entry)
    if allowed is None:
        return False
    scheme, host, port, path = allowed
    if (url[0], url[1]) != (scheme, host):
        return False
    # An entry without a port covers the scheme's default port; on a loopback host it covers every port.
    if port is None and not is_loopback_host(host):
        port = _DEFAULT_PORTS[scheme]
    url_port = url[2] if url[2] is not None else _DEFAULT_PORTS[scheme]
    if port is not None and url_port != port:
        return False
    return url[3] == path or url[3].startswith(path + "/")


def origin(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        port = -1
    return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path.rstrip("/")


def same_server(base_url: str, url: str) -> bool:
    """Same scheme, host and port (case and an explicit default port aside), path at or below the base path."""
    base, other = origin(base_url), origin(url)
    same_path = other[3] == base[3] or other[3].startswith(base[3] + "/")
    return base[:3] == other[:3] and bool(base[1]) and same_path
