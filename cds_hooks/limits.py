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
