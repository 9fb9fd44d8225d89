"""The pages a person opens first: ``/`` (what this service is and offers) and ``/docs`` (Swagger UI over the API).

``/docs`` is Swagger UI from the ``swagger-ui-bundle`` package, its files served from here: no CDN, so the page
works on a network with no way out, and a strict Content-Security-Policy (``'self'`` only, no inline script or
style) holds. The page reads the service's own ``/openapi.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, Response, abort, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path
from werkzeug.wrappers import Response as BaseResponse

from cds_hooks import ServiceRegistry

SWAGGER_FILES = frozenset(
    {"favicon-32x32.png", "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"}
)
# Swagger UI styles its own elements from script (CSSOM, which CSP allows) and shows data: icons from its CSS.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class ServiceFacts:
    """What the landing page shows."""

    name: str
    version: str
    knowledge_version: str
    registry: ServiceRegistry


def _secure(response: BaseResponse) -> BaseResponse:
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def pages_blueprint(facts: ServiceFacts) -> Blueprint:
    """``/``, ``/docs`` and their static files."""
    pages = Blueprint("pages", __name__, template_folder="templates", static_folder="static", static_url_path="/site")

    @pages.get("/")
    def landing() -> BaseResponse:
        return Response(render_template("landing.html", facts=facts), mimetype="text/html")

    @pages.get("/docs")
    def docs() -> BaseResponse:
        return Response(render_template("docs.html", facts=facts), mimetype="text/html")

    @pages.get("/docs/swagger/<name>")
    def swagger_file(name: str) -> BaseResponse:
        if name not in SWAGGER_FILES:
            abort(404)
        return send_from_directory(str(swagger_ui_path), name, max_age=3600)

    pages.after_request(_secure)  # the pages and their static files alike
    return pages


def install_pages(app: Flask, facts: ServiceFacts) -> None:
    """Register the landing and API documentation pages."""
    app.register_blueprint(pages_blueprint(facts))
