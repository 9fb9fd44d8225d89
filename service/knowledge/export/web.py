"""``/knowledge/``: the exported package, read-only, and the link to it in discovery (an extension 2.0 clients ignore).

The package holds no patient data, so it is served without authentication; it is built on the first request and
kept (the knowledge is immutable for the life of the process).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from flask import Blueprint, Flask, Response, abort, jsonify

from cds_hooks import ServiceDefinition
from service.hooks import SERVICE_IDS
from service.knowledge.base import Knowledge
from service.knowledge.export.book import INDEX_PAGE, build_book
from service.knowledge.export.package import INDEX, MANIFEST, KnowledgePackage, build_package
from service.knowledge.export.plans import plan_file
from service.knowledge.export.rule_views import rule_views

PREFIX = "/knowledge"
EXTENSION_KEY = "org.example.fasciculation-cds.knowledge"  # reverse-DNS, as CDS Hooks 2.0 asks of extension keys
FHIR_JSON = "application/fhir+json"
BOOK_CSP = "default-src 'none'; style-src 'unsafe-inline'"  # static pages: no script, no outside resource


def service_package(knowledge: Knowledge) -> KnowledgePackage:
    """The package of this knowledge for the services this app offers."""
    return build_package(knowledge, tuple(SERVICE_IDS.items()))


def knowledge_blueprint(knowledge: Knowledge) -> Blueprint:
    """GET /knowledge/ (the file list), /knowledge/package.json, /knowledge/.index.json, one file per resource, and
    the knowledge book at /knowledge/book/."""
    blueprint = Blueprint("knowledge", __name__, url_prefix=PREFIX)

    @blueprint.get("/book/", defaults={"name": INDEX_PAGE})
    @blueprint.get("/book/<name>")
    def book_page(name: str) -> Response:
        content = build_book(knowledge).get(name)
        if content is None:
            abort(404, description=f"no page {name!r} in the knowledge book")
        response = Response(content, mimetype="text/html")
        response.headers["Content-Security-Policy"] = BOOK_CSP
        return response

    @blueprint.get("/")
    def listing() -> Response:
        package = service_package(knowledge)
        files = [{"filename": name, "href": f"{PREFIX}/{name}"} for name in (MANIFEST, INDEX, *package.resources)]
        return jsonify({"package": package.name, "book": f"{PREFIX}/book/", "files": files})

    @blueprint.get("/<path:name>")
    def package_file(name: str) -> Response:
        package = service_package(knowledge)
        content = package.files.get(name)
        if content is None:
            abort(404, description=f"no file {name!r} in the knowledge package")
        kind = FHIR_JSON if name in package.resources else "application/json"
        return Response(content, mimetype=kind)

    return blueprint


def install_knowledge(app: Flask, knowledge: Knowledge) -> None:
    """Serve the knowledge package under /knowledge/."""
    app.register_blueprint(knowledge_blueprint(knowledge))


def with_knowledge_link(
    definitions: Iterable[ServiceDefinition], knowledge: Knowledge, public_url: str | None
) -> list[ServiceDefinition]:
    """Each service's discovery entry names the package and the PlanDefinitions of its hook (an extension)."""
    base = f"{public_url.rstrip('/')}{PREFIX}" if public_url else PREFIX
    views = rule_views(knowledge)
    linked = []
    for definition in definitions:
        plans = [f"{base}/{plan_file(v.id, definition.hook)}" for v in views if definition.hook in v.hooks]
        link = {"package": f"{base}/{MANIFEST}", "planDefinitions": plans}
        linked.append(dataclasses.replace(definition, extension={**definition.extension, EXTENSION_KEY: link}))
    return linked
