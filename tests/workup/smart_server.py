"""A test-only SMART authorization server on loopback, built on authlib's OAuth 2 server (code grant + PKCE S256).

It plays the EHR's side of a launch: ``launches`` maps a launch id to the patient and the card's ``appContext``;
``/authorize`` approves at once (no login page) unless told to deny; ``/token`` answers with ``patient`` and
``appContext`` beside the access token it was given to hand out. Every request it receives is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, request

from tests.loopback import serve_app

CLIENT_ID = "fasciculation-cds-workup"
SCOPES = frozenset({"launch", "launch/patient", "openid", "fhirUser", "patient/*.rs"})


@dataclass(frozen=True)
class LaunchContext:
    """What the EHR knows when it launches the app from a card."""

    patient: str
    app_context: str | None = None


@dataclass
class SmartServerState:
    """Shared between the test and the server thread: its settings and what it saw."""

    access_token: str
    fhir_base: str = ""
    base_url: str = ""
    launches: dict[str, LaunchContext] = field(default_factory=dict)
    standalone_patient: str | None = None
    deny: bool = False
    tamper_state: bool = False
    expires_in: int = 3600
    requests: list[str] = field(default_factory=list)
    audiences: list[str] = field(default_factory=list)
    codes: dict[str, Any] = field(default_factory=dict)


class _Client:
    """The one public client: the work-up app (PKCE, no secret)."""

    def __init__(self, redirect_prefix: str = "http://127.0.0.1:") -> None:
        self.redirect_prefix = redirect_prefix

    def get_client_id(self) -> str:
        return CLIENT_ID

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri.startswith(self.redirect_prefix) and redirect_uri.endswith("/workup/callback")

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _Code:
    code: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    user: LaunchContext

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> int:
        return int(time.time())


def _grant_class(state: SmartServerState) -> type[grants.AuthorizationCodeGrant]:
    class SmartCodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

        def save_authorization_code(self, code: str, oauth_request: Any) -> None:
            payload = oauth_request.payload
            state.codes[code] = _Code(
                code,
                payload.redirect_uri,
                payload.scope,
                payload.data.get("code_challenge"),
                payload.data.get("code_challenge_method"),
                oauth_request.user,
            )

        def query_authorization_code(self, code: str, client: Any) -> _Code | None:
            return state.codes.get(code)

        def delete_authorization_code(self, authorization_code: _Code) -> None:
            state.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: _Code) -> LaunchContext:
            return authorization_code.user

    return SmartCodeGrant


def _token_generator(state: SmartServerState) -> Any:
    def generate(
        grant_type: str, client: Any, user: LaunchContext | None = None, scope: str | None = None, **_: Any
    ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": state.access_token,
            "expires_in": state.expires_in,
            "scope": scope or "",
        }
        if user is not None:
            token["patient"] = user.patient
            if user.app_context:
                token["appContext"] = user.app_context
        return token

    return generate


def _context(state: SmartServerState) -> LaunchContext | None:
    launch = request.args.get("launch")
    if launch:
        return state.launches.get(launch)
    return LaunchContext(state.standalone_patient) if state.standalone_patient else None


def _authorize(state: SmartServerState, server: AuthorizationServer) -> Any:
    state.audiences.append(request.args.get("aud", ""))
    grant = server.get_consent_grant(end_user=None)
    user = None if state.deny else _context(state)
    if request.args.get("aud") != state.fhir_base:
        user = None  # SMART: the aud must be the FHIR server the app will call
    response = server.create_authorization_response(grant_user=user, grant=grant)
    if state.tamper_state and response.status_code == 302:
        response.headers["Location"] = response.headers["Location"].replace("state=", "state=forged")
    return response


def build_app(state: SmartServerState) -> Flask:
    """The authorization server's Flask app."""
    app = Flask("smart-test-authorization-server")
    server = AuthorizationServer(app, query_client=lambda client_id: _Client() if client_id == CLIENT_ID else None)
    server.register_grant(_grant_class(state), [CodeChallenge(required=True)])
    server.register_token_generator("default", _token_generator(state))
    server.save_token = lambda token, oauth_request: None  # type: ignore[method-assign]

    @app.before_request
    def record() -> None:
        state.requests.append(request.full_path)

    app.add_url_rule("/authorize", "authorize", lambda: _authorize(state, server))
    app.add_url_rule("/token", "token", server.create_token_response, methods=["POST"])
    return app


@contextmanager
def smart_server(access_token: str) -> Iterator[SmartServerState]:
    """Run the authorization server on 127.0.0.1 (a free port) for the duration of the block."""
    state = SmartServerState(access_token=access_token)
    with serve_app(build_app(state)) as base_url:
        state.base_url = base_url
        yield state
