"""What a client may send: the patterns and length limits of request and feedback strings, and their validators.

The same constants feed the marshmallow schemas and the OpenAPI document, so the two cannot drift apart. Lengths
are in characters; a longer value is refused with 400 naming the field (README "Input limits").
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, validate

# hookInstance is logged, so it is held to characters that cannot forge a log line (UUIDs pass).
HOOK_INSTANCE_PATTERN = r"^[A-Za-z0-9._:\-]{1,128}$"
# FHIR R4 id datatype: it is substituted into prefetch URLs, so nothing else may pass.
FHIR_ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"
# A reference such as Practitioner/123 (CDS Hooks Library invariant ord-1, widened to FHIR ids).
RELATIVE_REFERENCE_PATTERN = r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$"
# RFC 6750 §2.1 b64token: the only characters a bearer token may carry into our outgoing Authorization header.
B64TOKEN_PATTERN = r"^[A-Za-z0-9\-._~+/]+=*$"

# Text a database can hold: PostgreSQL text refuses NUL, so feedback strings that are stored may not carry it.
NO_NUL_PATTERN = r"^[^\x00]*$"


def _fhir_server_pattern() -> str:
    """An http(s) base URL as RFC 3986 §3 writes it, narrowed to what the service will call.

    Host: DNS labels (IPv4 dotted quads are such labels) or an RFC 3986 §3.2.2 IPv6 literal; an optional port
    1-65535; path segments of unreserved, sub-delims (but "@") and ":" characters or %-escapes, no "." / ".." segment
    (encoded or not); no userinfo, query or fragment. One pattern, published in /openapi.json and used by the server.
    """
    h16, dec = "[0-9A-Fa-f]{1,4}", "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    ls32 = f"(?:{h16}:{h16}|{dec}(?:\\.{dec}){{3}})"
    six = [f"(?:{h16}:){{6}}{ls32}", f"::(?:{h16}:){{5}}{ls32}", f"(?:{h16})?::(?:{h16}:){{4}}{ls32}"]
    six += [f"(?:(?:{h16}:){{0,{n}}}{h16})?::(?:{h16}:){{{3 - n}}}{ls32}" for n in (1, 2)]
    six += [f"(?:(?:{h16}:){{0,3}}{h16})?::{h16}:{ls32}", f"(?:(?:{h16}:){{0,4}}{h16})?::{ls32}"]
    six += [f"(?:(?:{h16}:){{0,5}}{h16})?::{h16}", f"(?:(?:{h16}:){{0,6}}{h16})?::"]
    label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    host = f"(?:{label}(?:\\.{label})*|\\[(?:{'|'.join(six)})\\])"
    port = "(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    dot = "(?:\\.|%2[Ee])"
    segment = "(?:[A-Za-z0-9\\-._~!\\x24&'()*+,;=:]|%[0-9A-Fa-f]{2})*"  # x24: "$", not an anchor
    no_dots = f"(?!(?:/{segment})*/{dot}{{1,2}}(?:/|$))"
    return f"^https?://{host}{port}{no_dots}(?:/{segment})*$"


FHIR_SERVER_PATTERN = _fhir_server_pattern()

MAX_ACCESS_TOKEN_CHARS = 8192
MAX_URL_CHARS = 2048
MAX_NAME_CHARS = 128  # hook, prefetch keys, card ids, suggestion ids
MAX_CODE_CHARS = 256  # override reason code
MAX_URI_CHARS = 1024  # override reason system and display, fhirAuthorization.subject
MAX_TEXT_CHARS = 4000  # fhirAuthorization.scope, overrideReason.userComment


class FullMatch(validate.Regexp):
    """A Regexp validator that must match the whole value (Python's ``$`` also matches before a final newline)."""

    def __init__(self, pattern: str, error: str) -> None:
        super().__init__(pattern, error=error)
        self._whole = re.compile(pattern)

    def __call__(self, value: Any) -> Any:
        """Return ``value`` if the pattern covers it entirely, else raise ValidationError."""
        if not isinstance(value, str) or self._whole.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def longest(limit: int) -> validate.Length:
    """At most ``limit`` characters."""
    return validate.Length(max=limit, error=f"must be at most {limit} characters")


def between(shortest: int, limit: int) -> validate.Length:
    """Between ``shortest`` and ``limit`` characters."""
    return validate.Length(min=shortest, max=limit, error=f"must be {shortest} to {limit} characters")
