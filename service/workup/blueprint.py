"""The SMART app's routes: ``/workup/launch`` (EHR or standalone), ``/workup/callback`` and the page ``/workup/``.

Security: an ``iss`` off the FHIR allow-list is refused before any request or redirect; the token stays in the
server-side session (never in a URL, a log line or the page); the cookie is HttpOnly and SameSite (None + Secure
behind TLS so that it works in an EHR iframe, Lax otherwise); every answer carries a CSP without scripts whose
``frame-ancestors`` is configurable. Every failure ends on a clear page with a 4xx/5xx status, never a 500.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from flask import Blueprint, Response, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks import ServerAllowList
from cds_hooks.fhir_client import ClientFactory, FhirClientSettings, cookieless_session
from service.knowledge import Knowledge
from service.security import serving_port
from service.store.resilience import DatabaseUnavailable
from service.workup.config import WorkupSettings
from service.workup.fetch import Grant, read_record
from service.workup.launch_limit import LaunchLimiter
from service.workup.messages import MESSAGES, WorkupStop
from service.workup.page import PAGE_POLICY, build_page, render_message, render_page
from service.workup.sessions import SessionStore
from service.workup.smart import authorization_request, discover, exchange_code, sign_in_session

log = logging.getLogger(__name__)

COOKIE = "workup_session"
SECURE_COOKIE = "__Host-workup_session"
MAX_WINDOW_DAYS = 3650  # the __Host- prefix pins it to this origin, path / and Secure


@dataclass(frozen=True)
class WorkupDeps:
    """What the blueprint needs from the app."""

    knowledge: Knowledge
    clock: Callable[[], datetime]
    settings: WorkupSettings
    allow_list: ServerAllowList
    client_factory: ClientFactory
    client_settings: FhirClientSettings
    sessions: SessionStore
    public_url: str | None
    limiter: LaunchLimiter


def base_url(public_url: str | None) -> str:
    """The app's public base URL (no trailing slash): CDS_PUBLIC_URL, else the request's own."""
    return (public_url or request.host_url).rstrip("/")


def _secure(deps: WorkupDeps) -> bool:
    return request.is_secure or (deps.public_url or "").startswith("https://")


def _headers(response: BaseResponse, deps: WorkupDeps) -> BaseResponse:
    response.headers["Content-Security-Policy"] = f"{PAGE_POLICY}; frame-ancestors {deps.settings.frame_ancestors}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _message(reason: str, deps: WorkupDeps) -> BaseResponse:
    message = MESSAGES[reason]
    log.info("workup: ended on page '%s' (%d)", reason, message.status)
    html = render_message(message.title, message.text, action=message.action)
    return _headers(Response(html, status=message.status, mimetype="text/html"), deps)


def _cookie_value(deps: WorkupDeps) -> str | None:
    return request.cookies.get(SECURE_COOKIE if _secure(deps) else COOKIE)


def _set_cookie(response: BaseResponse, session_id: str, deps: WorkupDeps) -> None:
    secure = _secure(deps)
    response.set_cookie(
        SECURE_COOKIE if secure else COOKIE,
        session_id,
        max_age=deps.settings.session_ttl_s,
        path="/",
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
    )


def _launch(deps: WorkupDeps) -> BaseResponse:
    wait = deps.limiter.retry_after(request.remote_addr)  # before any row is written or server called
    if wait is not None:
        response = _message("rate-limited", deps)
        response.headers["Retry-After"] = str(wait)
        return response
    iss = (request.args.get("iss") or deps.settings.standalone_iss or "").rstrip("/")
    launch = request.args.get("launch") or None
    if not iss:
        return _message("missing-iss", deps)
    if not deps.allow_list.permits(iss, serving_port()):
        log.warning("workup: launch refused, iss not on the allow-list")
        return _message("iss-not-allowed", deps)
    try:
        endpoints = discover(iss, deps.client_settings, _DISCOVERY_SESSION)
    except WorkupStop as exc:
        return _message(exc.reason, deps)
    redirect_uri = f"{base_url(deps.public_url)}/workup/callback"
    auth = authorization_request(
        endpoints, client_id=deps.settings.client_id, redirect_uri=redirect_uri, iss=iss, launch=launch
    )
    pending = {"iss": iss, "state": auth.state, "verifier": auth.code_verifier}
    pending["token_endpoint"] = endpoints.token_endpoint
    session_id = deps.sessions.create(pending)
    response = _headers(redirect(auth.url, code=302), deps)
    _set_cookie(response, session_id, deps)
    log.info("workup: %s launch redirected to authorization", "EHR" if launch else "standalone")
    return response


def _callback(deps: WorkupDeps) -> BaseResponse:
    session_id = _cookie_value(deps)
    pending = deps.sessions.load(session_id)
    sent_state = request.args.get("state", "")
    if pending is None or session_id is None or "state" not in pending:
        return _message("state", deps)
    if not hmac.compare_digest(sent_state.encode(), str(pending["state"]).encode()):
        deps.sessions.end(session_id)
        return _message("state", deps)
    code = request.args.get("code")
    if request.args.get("error") or not code:
        deps.sessions.end(session_id)
        return _message("denied", deps)
    try:
        granted = exchange_code(
            pending["token_endpoint"],
            code=code,
            code_verifier=pending["verifier"],
            client_id=deps.settings.client_id,
            redirect_uri=f"{base_url(deps.public_url)}/workup/callback",
            settings=deps.client_settings,
        )
    except WorkupStop as exc:
        deps.sessions.end(session_id)
        return _message(exc.reason, deps)
    if granted.patient is None:
        deps.sessions.end(session_id)
        return _message("no-patient", deps)
    # A new session id once authorised (no fixation): the pre-launch id, seen by the authorization round-trip, dies.
    deps.sessions.end(session_id)
    authorised = deps.sessions.create({"iss": pending["iss"], **asdict(granted)})
    response = _headers(redirect(f"{base_url(deps.public_url)}/workup/", code=303), deps)
    _set_cookie(response, authorised, deps)
    return response


def _view(deps: WorkupDeps) -> BaseResponse:
    session = deps.sessions.load(_cookie_value(deps))
    if session is None or "access_token" not in session:
        return _message("no-session", deps)
    if time.time() >= float(session["expires_at"]):
        return _message("expired", deps)
    grant = Grant(session["iss"], session["access_token"], session["scope"], session["patient"])
    try:
        record = read_record(grant, deps.knowledge, deps.client_factory)
    except WorkupStop as exc:
        return _message(exc.reason, deps)
    days = min(max(request.args.get("days", deps.settings.window_days, type=int), 1), MAX_WINDOW_DAYS)
    highlight = app_context_finding(session.get("app_context"))
    page = build_page(record, now=deps.clock(), knowledge=deps.knowledge, window_days=days, highlight=highlight)
    return _headers(Response(render_page(page, range_links=True), mimetype="text/html"), deps)


def app_context_finding(app_context: str | None) -> str | None:
    """The finding a card's ``appContext`` names (``finding=<rule id>`` or a bare rule id)."""
    if not app_context:
        return None
    return app_context.removeprefix("finding=").strip() or None


_DISCOVERY_SESSION = sign_in_session(cookieless_session())


def create_workup_blueprint(deps: WorkupDeps) -> Blueprint:
    """The blueprint serving the SMART app under ``/workup``."""
    blueprint = Blueprint("workup", __name__, url_prefix="/workup")
    blueprint.add_url_rule("/launch", "launch", lambda: _launch(deps))
    blueprint.add_url_rule("/callback", "callback", lambda: _callback(deps))
    blueprint.add_url_rule("/", "view", lambda: _view(deps))
    blueprint.register_error_handler(DatabaseUnavailable, lambda _exc: _message("sessions-unavailable", deps))
    return blueprint
