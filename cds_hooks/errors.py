"""One exception tree for the CDS Hooks toolkit, translated to a JSON HTTP answer in one place.

CdsHooksError                    every error the toolkit raises on purpose; carries status + JSON body
├── BadRequest (400)             malformed JSON, missing or ill-typed fields (``fields`` names them)
├── Unauthorized (401)           authentication failed; the body never says why
├── NotFound (404)               unknown CDS service id
└── PreconditionFailed (412)     required FHIR data can be had neither from prefetch nor the FHIR server

werkzeug's own HTTP errors (unknown path 404, wrong verb 405, body over the limit 413) are translated to the
same JSON shape by ``blueprint.install_error_handlers``.

FhirClientError                  a FHIR server could not give what was asked (the resolver turns it into 412)
├── FhirTimeout                  connect or read timeout
├── FhirConnectionError          refused, reset, DNS failure
├── FhirHttpError                non-2xx answer (``status`` holds it)
├── FhirBadResponse              the body is not a JSON object of the expected resourceType
├── FhirServerNotAllowed         the server is not on the allow-list and was never contacted
└── FhirScopeNotGranted          fhirAuthorization.scope leaves the query out; the server was never asked
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FieldErrors = Mapping[str, Sequence[str]]


class CdsHooksError(Exception):
    """Base of every deliberate error; subclasses fix the HTTP status."""

    status: int = 500
    error: str = "internal_error"
    detail_key: str | None = None  # the body key that carries ``detail()`` when it is not empty

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def detail(self) -> Any:
        """What the body says beyond the message (under ``detail_key``); nothing by default."""
        return None

    def to_body(self) -> dict[str, Any]:
        """JSON body sent to the client."""
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        detail = self.detail()
        if self.detail_key is not None and detail:
            body[self.detail_key] = detail
        return body


class BadRequest(CdsHooksError):
    """400: the request is not a valid CDS Hooks call; ``fields`` maps each wrong field to its problems."""

    status = 400
    error = "bad_request"
    detail_key = "fields"

    def __init__(self, message: str, fields: FieldErrors | None = None) -> None:
        super().__init__(message)
        self.fields: dict[str, list[str]] = {k: list(v) for k, v in (fields or {}).items()}

    def detail(self) -> dict[str, list[str]]:
        """The offending fields and their problems."""
        return self.fields


class Unauthorized(CdsHooksError):
    """401: authentication failed. The reason is for the server log only, never the body."""

    status = 401
    error = "unauthorized"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)

    def to_body(self) -> dict[str, Any]:
        """Bare body: the spec's best practice is a 401 with no detail."""
        return {"error": self.error}


class NotFound(CdsHooksError):
    """404: no such CDS service (or path)."""

    status = 404
    error = "not_found"


class PreconditionFailed(CdsHooksError):
    """412: required data could be obtained neither from prefetch nor from the FHIR server."""

    status = 412
    error = "precondition_failed"
    detail_key = "prefetch"

    def __init__(self, message: str, prefetch_keys: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.prefetch_keys = list(prefetch_keys)

    def detail(self) -> list[str]:
        """The prefetch keys that could not be satisfied."""
        return self.prefetch_keys


class FhirClientError(Exception):
    """A FHIR server could not provide the requested data."""


class FhirTimeout(FhirClientError):
    """The FHIR server did not connect or answer within the timeout."""


class FhirConnectionError(FhirClientError):
    """The FHIR server could not be reached."""


class FhirHttpError(FhirClientError):
    """The FHIR server answered with a non-2xx status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class FhirBadResponse(FhirClientError):
    """The FHIR server answered with something that is not the expected FHIR JSON."""


class FhirServerNotAllowed(FhirClientError):
    """The FHIR server is not on the allow-list; it was not contacted."""


class FhirScopeNotGranted(FhirClientError):
    """The token's scope (SMART v1 or v2) does not cover the query; the FHIR server was not asked."""
